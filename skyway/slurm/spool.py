"""The hooks' spool: a file per call, drained by one process at a time.

A hook call only writes its hostlist (and the resume file's text, which
slurmctld deletes once the hook exits) into the spool and returns; the
first call that finds no drainer starts one. The wrappers that
`skyway slurm --update-conf` writes do this in the shell, so fifty
calls at once cost fifty tiny shell processes and one Python process
that loads the configuration and the database. Standard library only:
the Python side runs before anything else is imported.

A call is a text file `<20-digit ns>-<pid>.call`, written under a dot
name and renamed into place:

    resume                 the hook
    1796243400.123456789   when it was called (epoch seconds)
    demo-local-c1-[001-002]
    <the resume file's text, if any, to the end>
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)
SPOOL_VAR = "SKYWAY_HOOK_SPOOL"
LOCK_NAME = ".drainer.lock"
SUFFIX = ".call"
FAILED = "failed"


@dataclass(frozen=True)
class Call:
    """One hook call as slurmctld made it."""

    hook: str
    hostlist: str
    at: float
    resume_text: str = ""


def put(folder: Path, call: Call) -> Path:
    """Write one call atomically; names sort in arrival order."""
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{time.time_ns():020d}-{os.getpid()}{SUFFIX}"
    tmp = folder / f".{name}"
    text = f"{call.hook}\n{call.at:.6f}\n{call.hostlist}\n{call.resume_text}"
    tmp.write_text(text)
    path = folder / name
    os.replace(tmp, path)
    return path


def pending(folder: Path) -> list[Path]:
    """The calls waiting, oldest first."""
    if not folder.is_dir():
        return []
    return sorted(folder.glob(f"[0-9]*{SUFFIX}"))


def read(folder: Path) -> list[tuple[Path, Call]]:
    """Every waiting call with its file, oldest first; the files stay
    until `done`, so a call whose handling fails is not lost. An
    unreadable file is dropped with a warning."""
    calls = []
    for path in pending(folder):
        try:
            calls.append((path, parse(path.read_text())))
        except (OSError, ValueError) as exc:
            log.warning("dropped unreadable hook call %s: %s", path.name, exc)
            path.unlink(missing_ok=True)
    return calls


def done(paths: list[Path]) -> None:
    """Remove calls that were handled."""
    for path in paths:
        path.unlink(missing_ok=True)


def set_aside(folder: Path, paths: list[Path]) -> Path:
    """Move calls that keep failing into `failed/`, for an admin."""
    failed = folder / FAILED
    failed.mkdir(exist_ok=True)
    for path in paths:
        if path.exists():
            os.replace(path, failed / path.name)
    return failed


def parse(text: str) -> Call:
    """A call from its file's text; ValueError if it is not one."""
    parts = text.split("\n", 3)
    if len(parts) < 3 or not parts[0] or not parts[2]:
        raise ValueError("expected the hook, the time and the hostlist")
    resume_text = parts[3] if len(parts) > 3 else ""
    return Call(parts[0], parts[2], float(parts[1]), resume_text)


def try_lock(folder: Path) -> IO[str] | None:
    """The drainer's lock if free, else None; closing it releases it."""
    folder.mkdir(parents=True, exist_ok=True)
    handle = (folder / LOCK_NAME).open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle
