"""The hooks' spool: a file per call, drained by one process at a time.

A hook call only writes its hostlist (and the resume file's text, which
slurmctld deletes once the hook exits) into the spool and returns; the
first call that finds no drainer becomes one. Fifty calls at once thus
cost fifty tiny processes and one that loads the configuration and the
database, instead of fifty heavy ones. Standard library only: this runs
on every call, before anything else is imported.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from pathlib import Path
from typing import IO, Any

log = logging.getLogger(__name__)
SPOOL_VAR = "SKYWAY_HOOK_SPOOL"
LOCK_NAME = ".drainer.lock"


def put(folder: Path, entry: dict[str, Any]) -> Path:
    """Write one call atomically; names sort in arrival order."""
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{time.time_ns():020d}-{os.getpid()}.json"
    tmp = folder / f".{name}"
    tmp.write_text(json.dumps(entry))
    path = folder / name
    os.replace(tmp, path)
    return path


def pending(folder: Path) -> list[Path]:
    """The calls waiting, oldest first."""
    if not folder.is_dir():
        return []
    return sorted(folder.glob("[0-9]*.json"))


def take(folder: Path) -> list[dict[str, Any]]:
    """Read and remove every waiting call; unreadable ones are dropped."""
    entries = []
    for path in pending(folder):
        try:
            entries.append(json.loads(path.read_text()))
        except (OSError, ValueError) as exc:
            log.warning("dropped unreadable hook call %s: %s", path.name, exc)
        path.unlink(missing_ok=True)
    return entries


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
