"""Slurm's power-saving hooks: ResumeProgram, SuspendProgram, ResumeFail.

A hook hands its hostlist to a detached child and returns to slurmctld
at once, before any heavy import; the child validates the names, checks
the budget, queues requests for the account workers and starts one
when none runs. Every decision goes to `<state>/log/hooks.log`.

`SKYWAY_HOOK_FOREGROUND=1` keeps all of it in one process, for tests
and debugging; the exit code is then 0 when every node was served and
2 when some names were refused as hostile or unknown (the others are
still served).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from skyway.cli.app import entry, run

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from skyway.config import Config

log = logging.getLogger("skyway.hooks")
LOG_NAME = "hooks.log"
FOREGROUND_VAR = "SKYWAY_HOOK_FOREGROUND"
RESUME_FILE_VAR = "SLURM_RESUME_FILE"
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


def detach() -> bool:
    """Fork a child that carries on; True in the parent, which returns.

    slurmctld removes the resume file once its program exits, so read
    it before calling this.
    """
    if _foreground():
        return False
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:  # slurmctld may run hooks with them closed
            stream.flush()
    if os.fork():
        return True
    os.setsid()
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    return False


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


def _group(config: Config, hostlist: str) -> tuple[dict[str, list[str]], int]:
    """Nodes by account; log and count the refused names."""
    from skyway.slurm import hostlists

    grouping = hostlists.group_by_account(
        hostlists.expand(hostlist), hostlists.account_limits(config)
    )
    for node, problem in grouping.refused.items():
        log.error("refused node %r: %s", node, problem)
    return grouping.by_account, len(grouping.refused)


def _read_resume_file() -> str:
    path = os.environ.get(RESUME_FILE_VAR)
    if not path:
        return ""
    try:
        return Path(path).read_text()
    except OSError:
        return ""


@click.command()
@ROOT
@click.argument("hostlist")
def resume(root: str | None, hostlist: str) -> int:
    """Bring up the cloud nodes in HOSTLIST (Slurm's ResumeProgram)."""
    resume_text = _read_resume_file()
    started = time.monotonic()
    if detach():
        return 0
    config = _start(root, "resume", hostlist)
    refused = _logged(_resume, config, hostlist, resume_text)
    log.info("resume queued in %.3f s", time.monotonic() - started)
    return 2 if refused else 0


def _resume(config: Config, hostlist: str, resume_text: str) -> int:
    from skyway import nodes
    from skyway.slurm import resume_file, scontrol

    by_account, refused = _group(config, hostlist)
    jobs = resume_file.parse_text(resume_text)
    users = scontrol.job_users(j for ids in jobs.values() for j in ids)
    with _session(config) as session:
        for account, names in sorted(by_account.items()):
            admitted = _admit(session, config, account, names)
            if not admitted:
                continue
            job_ids = _jobs_of(admitted, jobs)
            who = sorted({users[j] for j in job_ids if j in users})
            nodes.request(
                session,
                account,
                admitted,
                "resume",
                jobs=",".join(map(str, job_ids)),
                users=",".join(who),
                trigger="hook:skyway-resume",
            )
            log.info("resume queued for %s: %s", account, admitted)
    _wake(config, by_account)
    return refused


@click.command()
@ROOT
@click.argument("hostlist")
def suspend(root: str | None, hostlist: str) -> int:
    """Destroy the cloud nodes in HOSTLIST (Slurm's SuspendProgram)."""
    if detach():
        return 0
    config = _start(root, "suspend", hostlist)
    refused = _logged(_queue, config, hostlist, "suspend", "")
    return 2 if refused else 0


@click.command()
@ROOT
@click.argument("hostlist")
def resume_fail(root: str | None, hostlist: str) -> int:
    """Clean up nodes that failed to boot (Slurm's ResumeFailProgram)."""
    if detach():
        return 0
    config = _start(root, "resume-fail", hostlist)
    reason = f"{RESUME_FAIL_REASON} ({config.settings.slurm.resume_timeout} s)"
    refused = _logged(_queue, config, hostlist, "fail", reason)
    return 2 if refused else 0


def _logged(step: Callable[..., int], config: Config, *args: str) -> int:
    """Run a hook's step; a failure lands in the hooks log, then raises."""
    try:
        return step(config, *args)
    except Exception:
        log.exception("%s failed", step.__name__.strip("_"))
        raise


def _queue(config: Config, hostlist: str, action: str, reason: str) -> int:
    """Queue `action` for every served node and wake the workers."""
    from skyway import nodes

    by_account, refused = _group(config, hostlist)
    trigger = "hook:" + PROGRAMS["resume-fail" if action == "fail" else action]
    with _session(config) as session:
        for account, names in sorted(by_account.items()):
            nodes.request(
                session, account, names, action, trigger=trigger, reason=reason
            )
            log.info("%s queued for %s: %s", action, account, names)
    _wake(config, by_account)
    return refused


def _session(config: Config) -> AbstractContextManager[Session]:
    """A session on the schema `skyway slurm --update-conf` created."""
    from skyway.db import engine

    return engine.session_scope(config.database_url)


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
    """Make sure a worker drains each account's queue.

    The hook is already a detached process with the worker's modules
    loaded, so for a single account it becomes the one-shot worker
    itself when no other holds the lock, which spares a second Python
    start on the path of every resume.
    """
    from skyway import locks, nodes

    accounts = sorted(by_account)
    if len(accounts) == 1 and not _foreground():
        if locks.is_free(config, accounts[0]):
            result = nodes.work(config, accounts[0])
            log.info(
                "worked %s: runs %s, up %s, down %s, failed %s",
                accounts[0],
                result.runs,
                sorted(result.up),
                result.down,
                sorted(result.failed),
            )
        return
    for account in accounts:
        nodes.ensure_worker(config, account)


def _foreground() -> bool:
    return os.environ.get(FOREGROUND_VAR, "") not in ("", "0")


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
