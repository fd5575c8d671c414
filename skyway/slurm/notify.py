"""Tell Slurm what the account worker did to its nodes.

The worker in `skyway.nodes` calls a notifier after each run: a node is
up at an address, is gone, or failed; and asks it which jobs ran on the
nodes that went, for their journal rows. Slurm learns the address of a node
that came up, gets the placeholder address back for a node that went
away (an unresolvable one stalls slurmctld), and shows a failure's
reason in `sinfo -R`.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
from collections.abc import Callable

from skyway.config import Config
from skyway.errors import CommandError
from skyway.slurm import scontrol

log = logging.getLogger(__name__)


class SlurmNotifier:
    """Keeps slurmctld's view of node addresses and failures true."""

    def __init__(self, placeholder: str) -> None:
        self.placeholder = placeholder

    def node_up(self, name: str, address: str) -> None:
        log.info("node %s is up at %s", name, address)
        _quietly(scontrol.set_address, name, address)

    def node_down(self, name: str) -> None:
        log.info("node %s is down; placeholder address back", name)
        _quietly(scontrol.set_address, name, self.placeholder)

    def node_failed(self, name: str, reason: str) -> None:
        log.warning("node %s failed: %s", name, reason)
        _quietly(scontrol.set_address, name, self.placeholder)
        _quietly(scontrol.set_down, name, f"skyway: {reason}")

    def jobs_on(
        self, since: dict[str, dt.datetime]
    ) -> dict[str, list[tuple[str, str]]]:
        """From sacct; without accounting, the journal keeps what the
        resume hook named."""
        from skyway.slurm import accounting

        try:
            return accounting.jobs_on(since)
        except CommandError as exc:
            log.warning("cannot ask sacct for the nodes' jobs: %s", exc)
            return {}


class NullNotifier:
    """For hosts without Slurm: the worker's bookkeeping stands alone."""

    def node_up(self, name: str, address: str) -> None:
        log.info("node %s is up at %s (no Slurm to tell)", name, address)

    def node_down(self, name: str) -> None:
        log.info("node %s is down (no Slurm to tell)", name)

    def node_failed(self, name: str, reason: str) -> None:
        log.warning("node %s failed: %s (no Slurm to tell)", name, reason)

    def jobs_on(
        self, since: dict[str, dt.datetime]
    ) -> dict[str, list[tuple[str, str]]]:
        return {}


def for_config(config: Config) -> SlurmNotifier | NullNotifier:
    """The notifier for a site: Slurm's when scontrol is installed."""
    if shutil.which("scontrol") is None:
        return NullNotifier()
    return SlurmNotifier(config.settings.slurm.placeholder_address)


def _quietly(action: Callable[..., None], *args: str) -> None:
    """A failed scontrol is logged, never allowed to undo a Terraform run."""
    try:
        action(*args)
    except CommandError as exc:
        log.warning("cannot tell Slurm about %s: %s", args[0], exc)
