"""Which services exist, and what each one does on every tick.

Two kinds ship with Skyway: `cloud-ACCOUNT` (one per configured account:
drain the request queue, reconcile) and `billing` (costs, budgets, mail,
catalog). A site may add its own loops: every module named in
`SKYWAY_SERVICE_PLUGINS` (comma-separated) is imported at start and may
call `register(name, factory)`.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass

from skyway.config import Config, ServiceSettings
from skyway.errors import ConfigError, NotFoundError

log = logging.getLogger(__name__)

BILLING = "billing"
CLOUD_PREFIX = "cloud-"
PLUGIN_VAR = "SKYWAY_SERVICE_PLUGINS"


@dataclass(frozen=True)
class Task:
    """One periodic step of a service: `run()` every `every` seconds."""

    name: str
    run: Callable[[], None]
    every: float


@dataclass(frozen=True)
class Context:
    """What a service body needs to build its tasks."""

    config: Config
    name: str
    db_url: str
    interval: float
    settings: ServiceSettings


Factory = Callable[[Context], list[Task]]
_PLUGINS: dict[str, Factory] = {}


def register(name: str, factory: Factory) -> None:
    """Add a service `name` whose tasks `factory` builds (plugins)."""
    _PLUGINS[name] = factory


def load_plugins() -> None:
    """Import the modules named in SKYWAY_SERVICE_PLUGINS."""
    for module in filter(None, os.environ.get(PLUGIN_VAR, "").split(",")):
        try:
            importlib.import_module(module.strip())
        except ImportError as exc:
            raise ConfigError(
                PLUGIN_VAR, module, f"cannot import the service plugin: {exc}"
            ) from exc


def names(config: Config) -> list[str]:
    """Every service name this configuration allows."""
    load_plugins()
    clouds = [CLOUD_PREFIX + account for account in sorted(config.accounts)]
    return [*clouds, BILLING, *sorted(_PLUGINS)]


def check(config: Config, name: str) -> str:
    """Return `name` if it names a service, else a NotFoundError."""
    valid = names(config)
    if name not in valid:
        raise NotFoundError(
            f"unknown service {name!r}; expected one of: {', '.join(valid)}"
        )
    return name


def settings(config: Config, name: str) -> ServiceSettings:
    """etc/services/NAME.yaml, or the defaults when there is none."""
    return config.services.get(name) or ServiceSettings()


def tasks(context: Context) -> list[Task]:
    """The tasks of a service; the first one sets its `next run`."""
    name = check(context.config, context.name)
    if name in _PLUGINS:
        return _PLUGINS[name](context)
    if name == BILLING:
        from skyway.services import billing

        return billing.tasks(context)
    from skyway.services import cloud

    return cloud.tasks(context, name.removeprefix(CLOUD_PREFIX))
