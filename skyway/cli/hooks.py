"""Slurm's power-saving hooks: ResumeProgram, SuspendProgram, ResumeFail.

A hook call writes its hostlist into the spool and returns to slurmctld
at once. The wrappers do that in the shell and start Python (without
site-packages) only when no drainer runs, to become one; a call made
through Python imports nothing but the standard library first. The
drainer loads the configuration, validates the names, checks the
budget, queues requests for the account workers, and forks a worker
for each account whose lock is free (the same code the
`cloud-<account>` service runs). A lone call gets its worker at once; a
burst of calls is collected until it pauses, so it becomes one
Terraform run. Every decision goes to `<state>/log/hooks.log`.

`SKYWAY_HOOK_FOREGROUND=1` does all of it in one process, for tests and
debugging; the exit code is then 2 when some names were refused as
hostile or unknown (the others are still served), else 0."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn

from skyway.slurm import spool

if TYPE_CHECKING:
    import datetime as dt

    import click
    from sqlalchemy.orm import Session

    from skyway.config import Config

log = logging.getLogger("skyway.hooks")
LOG_NAME = "hooks.log"
CRASH_LOG = "drainer-errors.log"
FOREGROUND_VAR = "SKYWAY_HOOK_FOREGROUND"
RESUME_FILE_VAR = "SLURM_RESUME_FILE"
RESUME_FAIL_REASON = "did not register within ResumeTimeout"
LINGER = 2.0
QUIET = 0.3
COLLECT = 3.0
RETRIES = 5
RETRY_WAIT = 1.0
PROGRAMS = {
    "resume": "skyway-resume",
    "suspend": "skyway-suspend",
    "resume-fail": "skyway-resume-fail",
}
ACTIONS = {"resume": "resume", "suspend": "suspend", "resume-fail": "fail"}


def log_path(config: Config) -> Path:
    return config.state_dir / "log" / LOG_NAME


def call(hook: str, hostlist: str, root: str | None) -> int:
    """One hook call: spool it, make sure a drainer runs, return."""
    resume_text = _read_resume_file() if hook == "resume" else ""
    item = spool.Call(hook, hostlist, time.time(), resume_text)
    if _foreground():
        config = _start(root)
        refused = _logged(_handle, config, [item])[1]
        return 2 if refused else 0
    folder = _spool_dir(root)
    spool.put(folder, item)
    return drain(root, folder)


def drain(root: str | None, folder: Path | None = None) -> int:
    """Become the spool's drainer unless one runs; return at once.

    The wrappers spool a call themselves and run this only when they
    found the drainer's lock free.
    """
    folder = folder or _spool_dir(root)
    lock = spool.try_lock(folder)
    while lock is not None and not spool.pending(folder):
        lock.close()  # drained already; look again once let go
        lock = spool.try_lock(folder) if spool.pending(folder) else None
    if lock is None or _fork():
        return 0
    code = 1
    try:
        _drain(root, folder, lock)
        code = 0
    except BaseException:
        _note_crash(folder)
    finally:  # the drainer never returns into its caller's stack
        logging.shutdown()
        os._exit(code)


def _note_crash(folder: Path) -> None:
    """Say why the drainer stopped, beside the spool: it may not have
    got as far as opening the hooks' log (a broken configuration)."""
    import traceback

    log.exception("the drainer stopped")
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    with (folder / CRASH_LOG).open("a") as out:
        out.write(f"{stamp} drainer {os.getpid()} stopped:\n")
        out.write(traceback.format_exc())


def _foreground() -> bool:
    return os.environ.get(FOREGROUND_VAR, "") not in ("", "0")


def _read_resume_file() -> str:
    """slurmctld deletes the file once its program exits: read it now."""
    path = os.environ.get(RESUME_FILE_VAR)
    if not path:
        return ""
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _spool_dir(root: str | None) -> Path:
    """From the wrapper's environment; else from the configuration."""
    named = os.environ.get(spool.SPOOL_VAR)
    if named:
        return Path(named)
    from skyway import config

    return config.load(root).state_dir / "slurm" / "spool"


def _fork() -> bool:
    """Fork a detached child; True in the parent."""
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


def _start(root: str | None) -> Config:
    """Load the configuration and send this process's logs to the file."""
    if sys.flags.no_site:  # the wrappers start Python with -S: be quick
        import site

        site.main()
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
    return config


def _drain(root: str | None, folder: Path, lock: IO[str] | None) -> None:
    """Serve the spool while holding its lock; recheck after letting go."""
    config = _start(root)
    while lock is not None:
        try:
            _serve(config, folder, lock)
        finally:
            lock.close()
        lock = spool.try_lock(folder) if spool.pending(folder) else None


def _serve(config: Config, folder: Path, lock: IO[str]) -> None:
    """Handle calls as they come until none came for LINGER seconds.

    A lone call starts its worker at once. When more calls arrive while
    one is handled, it is a burst: workers start once the calls pause
    (QUIET) or after COLLECT at most, so the burst becomes one run. A
    call leaves the spool only once its requests are queued; calls that
    fail are tried again (the database may be away for a moment), and
    after RETRIES one by one, setting aside only those that still fail.
    """
    waiting: set[str] = set()
    last = burst = 0.0
    failures = 0
    while True:
        now = time.monotonic()
        calls = spool.read(folder)
        if calls:
            failures += 1
            if failures < RETRIES:
                touched = _try(config, folder, calls)
            else:
                touched = _one_by_one(config, folder, calls)
            if touched is None:
                time.sleep(RETRY_WAIT)
                continue
            failures = 0
            waiting |= touched
            last = now
            if spool.pending(folder):
                burst = burst or now
                continue
        calm = now - last >= QUIET or now - (burst or now) >= COLLECT
        if waiting and (not burst or calm):
            for account in sorted(waiting):
                _logged(_start_worker, config, account, lock, fatal=False)
            waiting, burst = set(), 0.0
        if not waiting and now - last >= LINGER:
            return
        time.sleep(0.05)


Calls = list[tuple[Path, spool.Call]]


def _try(config: Config, folder: Path, calls: Calls) -> set[str] | None:
    """Queue the calls' requests in one go; None if it failed."""
    handled = _logged(_handle, config, [c for _, c in calls], fatal=False)
    if handled is None:
        return None
    spool.done([path for path, _ in calls])
    return set(handled[0])


def _one_by_one(config: Config, folder: Path, calls: Calls) -> set[str]:
    """The last try: each call alone; one that fails is set aside."""
    touched: set[str] = set()
    for path, item in calls:
        handled = _logged(_handle, config, [item], fatal=False)
        if handled is None:
            place = spool.set_aside(folder, [path])
            log.error(
                "set aside %s %s after %d tries: see %s",
                item.hook,
                item.hostlist,
                RETRIES,
                place / path.name,
            )
            continue
        spool.done([path])
        touched |= handled[0]
    return touched


def _logged(
    step: Callable[..., Any], config: Config, *args: Any, fatal: bool = True
) -> Any:
    """Run a step; a failure lands in the hooks log, then raises, or
    returns None when it is not `fatal`."""
    try:
        return step(config, *args)
    except Exception:
        log.exception("%s failed", step.__name__.strip("_"))
        if fatal:
            raise
        return None


def _handle(config: Config, items: list[spool.Call]) -> tuple[set[str], int]:
    """Queue every call's requests; the accounts touched and refusals."""
    from skyway.db import engine

    accounts: set[str] = set()
    refused = 0
    with engine.session_scope(config.database_url) as session:
        for item in items:
            log.info("%s %s", item.hook, item.hostlist)
            by_account, bad = _group(config, item.hostlist)
            refused += bad
            if item.hook == "resume":
                called = _utc(item.at)
                _resume(session, config, by_account, item.resume_text, called)
            elif item.hook in ACTIONS:
                _queue(session, config, by_account, item.hook)
            else:
                log.error("refused call of unknown hook %r", item.hook)
                refused += 1
                continue
            accounts |= set(by_account)
    if _foreground():
        _wake(config, accounts)
    return accounts, refused


def _utc(epoch: float) -> dt.datetime:
    """A hook call's time as the database keeps times (naive UTC)."""
    import datetime as dt

    return dt.datetime.fromtimestamp(epoch, dt.UTC).replace(tzinfo=None)


def _group(config: Config, hostlist: str) -> tuple[dict[str, list[str]], int]:
    """Nodes by account; log and count the refused names."""
    from skyway.errors import InputError
    from skyway.slurm import hostlists

    try:
        nodes = hostlists.expand(hostlist)
    except InputError as exc:
        log.error("refused hostlist: %s", exc)
        return {}, 1
    grouping = hostlists.group_by_account(
        nodes, hostlists.account_limits(config)
    )
    for node, problem in grouping.refused.items():
        log.error("refused node %r: %s", node, problem)
    return grouping.by_account, len(grouping.refused)


def _resume(
    session: Session,
    config: Config,
    by_account: dict[str, list[str]],
    resume_text: str,
    called: dt.datetime,
) -> None:
    from skyway import nodes
    from skyway.slurm import resume_file, scontrol

    jobs = resume_file.parse_text(resume_text)
    users = scontrol.job_users(j for ids in jobs.values() for j in ids)
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
            requested_at=called,
        )
        log.info("resume queued for %s: %s", account, admitted)


def _queue(
    session: Session,
    config: Config,
    by_account: dict[str, list[str]],
    hook: str,
) -> None:
    """Queue a suspend or a fail for every served node."""
    from skyway import nodes

    action = ACTIONS[hook]
    reason = ""
    if action == "fail":
        timeout = config.settings.slurm.resume_timeout
        reason = f"{RESUME_FAIL_REASON} ({timeout} s)"
    for account, names in sorted(by_account.items()):
        nodes.request(
            session,
            account,
            names,
            action,
            trigger=f"hook:{PROGRAMS[hook]}",
            reason=reason,
        )
        log.info("%s queued for %s: %s", action, account, names)


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


def _wake(config: Config, accounts: Iterable[str]) -> None:
    """Start a separate worker for each account (foreground mode)."""
    from skyway import nodes

    for account in sorted(accounts):
        nodes.ensure_worker(config, account)


def _start_worker(config: Config, account: str, lock: IO[str]) -> None:
    """Fork a one-shot worker unless one holds the account's lock.

    The drainer has the worker's modules loaded already, so a fork
    spares a Python start on the path of every resume. The grandchild
    runs the worker; the child exits at once and is reaped here.
    """
    from skyway import locks, nodes
    from skyway.db import engine

    if not locks.is_free(config, account):
        return
    # No database connection may cross the fork: a child closing an
    # inherited SQLite handle drops the locks that guard the WAL.
    engine.get_engine(config.database_url).dispose()
    child = os.fork()
    if child:
        os.waitpid(child, 0)
        return
    if os.fork():
        os._exit(0)
    os.setsid()
    lock.close()  # the spool's lock stays the drainer's alone
    code = 0
    try:
        result = nodes.work(config, account)
        log.info(
            "worked %s: runs %s, up %s, down %s, failed %s",
            account,
            result.runs,
            sorted(result.up),
            sorted(result.down),
            sorted(result.failed),
        )
    except BaseException:
        log.exception("worker for %s failed", account)
        code = 1
    finally:
        logging.shutdown()
        os._exit(code)


def _command(hook: str) -> click.Command:
    """The Click command of a hook, for --help and --root."""
    import click

    @click.command(name=PROGRAMS[hook], help=HELP[hook])
    @click.option(
        "--root", metavar="DIR", envvar="SKYWAY_ROOT", help="Skyway root."
    )
    @click.argument("hostlist")
    def command(root: str | None, hostlist: str) -> int:
        return call(hook, hostlist, root)

    return command


HELP = {
    "resume": "Bring up the cloud nodes in HOSTLIST (Slurm's ResumeProgram).",
    "suspend": "Destroy the cloud nodes in HOSTLIST (Slurm's SuspendProgram).",
    "resume-fail": (
        "Clean up nodes that failed to boot (Slurm's ResumeFailProgram)."
    ),
}


def main(argv: list[str]) -> int:
    """`python -m skyway.cli.hooks HOOK HOSTLIST`, as the wrappers run it.

    A plain call skips Click, which would double the time slurmctld
    waits; options such as --help and --root go through it.
    """
    if argv == ["drain"]:
        return drain(os.environ.get("SKYWAY_ROOT"))
    if not argv or argv[0] not in PROGRAMS:
        sys.stderr.write(f"usage: hooks {{{'|'.join(PROGRAMS)}}} HOSTLIST\n")
        return 2
    hook, rest = argv[0], argv[1:]
    if len(rest) == 1 and not rest[0].startswith("-"):
        try:
            return call(hook, rest[0], os.environ.get("SKYWAY_ROOT"))
        except Exception as exc:
            sys.stderr.write(f"{PROGRAMS[hook]}: error: {exc}\n")
            return 1
    from skyway.cli.app import run

    return run(_command(hook), PROGRAMS[hook], rest)


def resume_main() -> NoReturn:
    sys.exit(main(["resume", *sys.argv[1:]]))


def suspend_main() -> NoReturn:
    sys.exit(main(["suspend", *sys.argv[1:]]))


def resume_fail_main() -> NoReturn:
    sys.exit(main(["resume-fail", *sys.argv[1:]]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
