"""Slurm's power-saving hooks: ResumeProgram, SuspendProgram, ResumeFail.

slurmctld runs them with a hostlist and waits for nothing, but a slow
hook delays its bookkeeping, so each one only validates, checks the
budget, queues requests for the account workers and returns well
within a second. Every decision goes to `<state>/log/hooks.log`.

Exit codes: 0 when every node was served, 2 when some names were
refused as hostile or unknown (the others are still served).
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import time
from collections.abc import Iterable
from contextlib import AbstractContextManager
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import click

from skyway.cli.app import entry, run
from skyway.config import Config

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

log = logging.getLogger("skyway.hooks")
LOG_NAME = "hooks.log"
RESUME_FAIL_REASON = "did not register within ResumeTimeout"
PROGRAMS = {
    "resume": "skyway-resume",
    "suspend": "skyway-suspend",
    "resume-fail": "skyway-resume-fail",
}
ROOT = click.option(
    "--root", metavar="DIR", envvar="SKYWAY_ROOT", help="Skyway root."
)


def log_path(config: Config) -> Path:
    return config.state_dir / "log" / LOG_NAME


def _start(root: str | None, hook: str, hostlist: str) -> Config:
    """Load the configuration and send this process's logs to the file."""
    from skyway import config as config_module

    config = config_module.load(root)
    path = log_path(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path)
    handler.setFormatter(
        logging.Formatter(
            "%(asctime)s %(process)d %(name)s %(levelname)s %(message)s"
        )
    )
    logging.getLogger("skyway").addHandler(handler)
    logging.getLogger("skyway").setLevel(logging.INFO)
    log.info("%s %s", hook, hostlist)
    return config


def _nodes() -> ModuleType:
    """The account worker's module (imported late: it pulls Terraform)."""
    return importlib.import_module("skyway.nodes")


def _group(config: Config, hostlist: str) -> tuple[dict[str, list[str]], int]:
    """Nodes by account; log and count the refused names."""
    from skyway.slurm import hostlists

    grouping = hostlists.group_by_account(
        hostlists.expand(hostlist), hostlists.account_limits(config)
    )
    for node, problem in grouping.refused.items():
        log.error("refused node %r: %s", node, problem)
    return grouping.by_account, len(grouping.refused)


@click.command()
@ROOT
@click.argument("hostlist")
def resume(root: str | None, hostlist: str) -> int:
    """Bring up the cloud nodes in HOSTLIST (Slurm's ResumeProgram)."""
    from skyway.slurm import resume_file, scontrol

    started = time.monotonic()
    config = _start(root, "resume", hostlist)
    by_account, refused = _group(config, hostlist)
    jobs = resume_file.jobs_by_node(os.environ.get(resume_file.VAR))
    users = scontrol.job_users(j for ids in jobs.values() for j in ids)
    with _session(config) as session:
        for account, nodes in sorted(by_account.items()):
            admitted = _admit(session, config, account, nodes)
            if not admitted:
                continue
            job_ids = _jobs_of(admitted, jobs)
            _nodes().request(
                session,
                account,
                admitted,
                "resume",
                jobs=",".join(map(str, job_ids)),
                users=",".join(
                    sorted({users[j] for j in job_ids if j in users})
                ),
                trigger="slurm-resume",
            )
    _wake(config, by_account)
    log.info("resume queued in %.3f s", time.monotonic() - started)
    return 2 if refused else 0


@click.command()
@ROOT
@click.argument("hostlist")
def suspend(root: str | None, hostlist: str) -> int:
    """Destroy the cloud nodes in HOSTLIST (Slurm's SuspendProgram)."""
    config = _start(root, "suspend", hostlist)
    by_account, refused = _group(config, hostlist)
    _queue(config, by_account, "suspend", "slurm-suspend", "")
    return 2 if refused else 0


@click.command()
@ROOT
@click.argument("hostlist")
def resume_fail(root: str | None, hostlist: str) -> int:
    """Clean up nodes that failed to boot (Slurm's ResumeFailProgram)."""
    config = _start(root, "resume-fail", hostlist)
    by_account, refused = _group(config, hostlist)
    reason = f"{RESUME_FAIL_REASON} ({config.settings.slurm.resume_timeout} s)"
    _queue(config, by_account, "fail", "slurm-resume-fail", reason)
    return 2 if refused else 0


def _queue(
    config: Config,
    by_account: dict[str, list[str]],
    action: str,
    trigger: str,
    reason: str,
) -> None:
    with _session(config) as session:
        for account, nodes in sorted(by_account.items()):
            _nodes().request(
                session, account, nodes, action, trigger=trigger, reason=reason
            )
            log.info("%s queued for %s: %s", action, account, nodes)
    _wake(config, by_account)


def _session(config: Config) -> AbstractContextManager[Session]:
    from skyway.db import engine

    url = config.database_url
    if engine.current_version(url) != engine.head_version():
        engine.migrate(url)
    return engine.session_scope(url)


def _admit(
    session: Session, config: Config, account: str, nodes: list[str]
) -> list[str]:
    """The nodes the account can pay for; the others go DOWN with why."""
    from skyway.billing import enforce
    from skyway.slurm import scontrol

    admitted, refused = enforce.admit(session, config, account, nodes)
    for node, why in sorted(refused.items()):
        log.warning("refused node %s: %s", node, why)
        scontrol.set_down(node, f"skyway: {why}")
    return list(admitted)


def _jobs_of(nodes: Iterable[str], jobs: dict[str, list[int]]) -> list[int]:
    return sorted({job for node in nodes for job in jobs.get(node, [])})


def _wake(config: Config, by_account: dict[str, list[str]]) -> None:
    """Make sure a worker will drain each account's queue."""
    for account in sorted(by_account):
        _nodes().ensure_worker(config, account)


resume_main = entry(resume, PROGRAMS["resume"])
suspend_main = entry(suspend, PROGRAMS["suspend"])
resume_fail_main = entry(resume_fail, PROGRAMS["resume-fail"])
COMMANDS = {"resume": resume, "suspend": suspend, "resume-fail": resume_fail}


def main(argv: list[str]) -> int:
    """`python -m skyway.cli.hooks resume|suspend|resume-fail HOSTLIST`."""
    if not argv or argv[0] not in COMMANDS:
        click.echo(f"usage: hooks {{{'|'.join(COMMANDS)}}} HOSTLIST", err=True)
        return 2
    return run(COMMANDS[argv[0]], PROGRAMS[argv[0]], argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
