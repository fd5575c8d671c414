"""Start, stop and find services on this host: pid files and logs.

A running service holds an exclusive `flock` on its pid file for its
whole life. The lock, not the number in the file, says whether it runs:
the kernel drops it when the process dies however it dies, so a stale
pid file (a crash, a reboot, a reused pid) never blocks a start.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

from skyway.config import Config
from skyway.errors import SkywayError

log = logging.getLogger(__name__)

START_WAIT = 30.0
STOP_WAIT = 60.0
KILL_WAIT = 10.0
POLL = 0.1
PROBE_WAIT = 0.5


def folder(config: Config) -> Path:
    """Where pid files and logs of services live: state/services/."""
    return config.state_dir / "services"


def pid_file(config: Config, name: str) -> Path:
    return folder(config) / f"{name}.pid"


def log_file(config: Config, name: str) -> Path:
    return folder(config) / f"{name}.log"


def stop_file(config: Config, name: str) -> Path:
    """A stop request the service looks for between tasks."""
    return folder(config) / f"{name}.stop"


def running_pid(config: Config, name: str) -> int | None:
    """The pid of `name` if it runs on this host, else None."""
    path = pid_file(config, name)
    try:
        handle = path.open("r")
    except FileNotFoundError:
        return None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            return _holder(handle, path)
        fcntl.flock(handle, fcntl.LOCK_UN)
        return None


def _holder(handle: IO[str], path: Path) -> int:
    """The pid in a locked pid file; its holder writes it right away."""
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        pid = _read_pid(handle)
        if pid:
            return pid
        time.sleep(POLL / 10)
    raise SkywayError(f"{path} is locked but holds no pid")


def _read_pid(handle: IO[str]) -> int | None:
    handle.seek(0)
    text = handle.read().strip()
    return int(text) if text.isdigit() else None


def _lock_within(handle: IO[str], wait: float) -> bool:
    """Take an exclusive lock, retrying for `wait` seconds.

    `running_pid` takes a shared lock for an instant to look; a start at
    that moment must not mistake the look for a running service.
    """
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL / 10)


class PidLock:
    """The pid file of a running service, locked while it lives."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        """Lock the pid file and write our pid, or raise if it is held."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            handle = self.path.open("a+")
            if not _lock_within(handle, PROBE_WAIT):
                pid = _read_pid(handle)
                handle.close()
                raise SkywayError(
                    f"{self.path.stem} is already running (pid {pid})"
                )
            if self._same_file(handle):
                break
            handle.close()  # the previous holder removed it: start over
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._handle = handle

    def _same_file(self, handle: IO[str]) -> bool:
        try:
            on_disk = self.path.stat()
        except FileNotFoundError:
            return False
        mine = os.fstat(handle.fileno())
        return (on_disk.st_dev, on_disk.st_ino) == (mine.st_dev, mine.st_ino)

    def release(self) -> None:
        """Remove the pid file, then drop the lock."""
        if self._handle is None:
            return
        self.path.unlink(missing_ok=True)
        self._handle.close()
        self._handle = None


def command(config: Config, name: str) -> list[str]:
    """The argument list that runs `name` in the foreground."""
    return [
        sys.executable,
        "-m",
        "skyway.services",
        "--root",
        str(config.root),
        name,
    ]


def start(config: Config, name: str, wait: float = START_WAIT) -> int:
    """Start `name` as a detached process; return its pid once it runs."""
    pid = running_pid(config, name)
    if pid is not None:
        raise SkywayError(f"{name} is already running (pid {pid})")
    folder(config).mkdir(parents=True, exist_ok=True)
    stop_file(config, name).unlink(missing_ok=True)
    with log_file(config, name).open("ab") as out:
        child = subprocess.Popen(
            command(config, name),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            cwd=config.root,
        )
    log.info("started %s as pid %d", name, child.pid)
    return _wait_started(config, name, child, wait)


def _wait_started(
    config: Config, name: str, child: subprocess.Popen[bytes], wait: float
) -> int:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if running_pid(config, name) == child.pid:
            return child.pid
        code = child.poll()
        if code is not None:
            raise SkywayError(
                f"{name} exited with {code} at start: "
                f"{last_line(log_file(config, name))} "
                f"(log: {log_file(config, name)})"
            )
        time.sleep(POLL)
    raise SkywayError(
        f"{name} (pid {child.pid}) did not take its pid file within "
        f"{wait:g} s; see {log_file(config, name)}"
    )


def last_line(path: Path) -> str:
    """The last non-empty line of a log, for one-line messages."""
    try:
        lines = path.read_text(errors="replace").strip().splitlines()
    except FileNotFoundError:
        return "no log"
    return lines[-1] if lines else "empty log"


def stop(config: Config, name: str, wait: float = STOP_WAIT) -> int | None:
    """SIGTERM `name` and wait for it; SIGKILL after `wait` seconds.

    Returns the pid that was stopped, or None if it was not running.
    """
    pid = running_pid(config, name)
    if pid is None:
        return None
    request = stop_file(config, name)
    request.write_text(f"{pid}\n")
    try:
        return _stop(config, name, pid, wait)
    finally:
        request.unlink(missing_ok=True)


def _stop(config: Config, name: str, pid: int, wait: float) -> int:
    _signal(pid, signal.SIGTERM)
    if _wait_stopped(config, name, wait):
        return pid
    log.warning(
        "%s (pid %d) ignored SIGTERM for %g s: killing", name, pid, wait
    )
    _signal(pid, signal.SIGKILL)
    if _wait_stopped(config, name, KILL_WAIT):
        return pid
    raise SkywayError(f"{name} (pid {pid}) survived SIGKILL")


def _signal(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _wait_stopped(config: Config, name: str, wait: float) -> bool:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if running_pid(config, name) is None:
            return True
        time.sleep(POLL)
    return running_pid(config, name) is None
