"""One Terraform run per account at a time, on one host or many.

On SQLite (one management host) the lock is an exclusive `flock` on a
file under the state folder. On MySQL/MariaDB and PostgreSQL, which
several management hosts may share, it is `SELECT ... FOR UPDATE` on the
account's row of `lock_row`, held in an open transaction for as long as
the run lasts; the database releases it if the holder dies.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError, OperationalError

from skyway.config import Config
from skyway.db import models
from skyway.db.engine import get_engine
from skyway.errors import LockTimeout

log = logging.getLogger(__name__)
POLL = 0.05


def lock_name(account: str) -> str:
    return f"account:{account}"


def holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@contextmanager
def account_lock(
    config: Config, account: str, timeout: float = 600
) -> Iterator[None]:
    """Hold the account's lock; LockTimeout if not free within timeout."""
    if config.database_url.startswith("sqlite"):
        with _file_lock(_lock_file(config, account), timeout):
            yield
    else:
        with _row_lock(config.database_url, lock_name(account), timeout):
            yield


def is_free(config: Config, account: str) -> bool:
    """True when nobody holds the account's lock right now."""
    try:
        with account_lock(config, account, timeout=0):
            return True
    except LockTimeout:
        return False


def _lock_file(config: Config, account: str) -> Path:
    folder = config.state_dir / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{account}.lock"


@contextmanager
def _file_lock(path: Path, timeout: float) -> Iterator[None]:
    deadline = time.monotonic() + timeout
    with path.open("a+") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockTimeout(_busy(path.stem, timeout)) from None
                time.sleep(POLL)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _busy(account: str, timeout: float) -> str:
    return (
        f"account {account} is busy with another Terraform run "
        f"(waited {timeout:g} s)"
    )


@contextmanager
def _row_lock(url: str, name: str, timeout: float) -> Iterator[None]:
    engine = get_engine(url)
    _ensure_row(url, name)
    deadline = time.monotonic() + timeout
    with engine.connect() as conn:
        while not _try_row(conn, name):
            if time.monotonic() >= deadline:
                raise LockTimeout(_busy(name.split(":", 1)[-1], timeout))
            time.sleep(POLL)
        try:
            yield
        finally:
            conn.rollback()


def _try_row(conn: Connection, name: str) -> bool:
    row = models.LockRow
    query = select(row.name).where(row.name == name)
    try:
        conn.execute(query.with_for_update(nowait=True)).one()
    except OperationalError:
        conn.rollback()
        return False
    return True


def _ensure_row(url: str, name: str) -> None:
    row = models.LockRow
    with get_engine(url).begin() as conn:
        found = conn.execute(select(row.name).where(row.name == name))
        if found.first() is not None:
            return
        try:
            with conn.begin_nested():
                conn.execute(insert(row).values(name=name, holder=holder()))
        except IntegrityError:
            log.debug("lock row %s created by another process", name)
