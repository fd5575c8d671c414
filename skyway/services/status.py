"""The `service` table: registrations, heartbeats and what they mean.

A running service writes a heartbeat every few seconds from its own
thread, so `skyway service --status` is true from any host that shares
the database: a service whose heartbeat is older than a few periods is
dead, whatever its row last said.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from skyway.db import models
from skyway.db.models import utcnow

HEARTBEAT_VAR = "SKYWAY_SERVICE_HEARTBEAT"
DEFAULT_HEARTBEAT = 10.0
LIVE_STATES = ("starting", "running", "sleeping", "stopping")


def heartbeat_period() -> float:
    """Seconds between two heartbeats (SKYWAY_SERVICE_HEARTBEAT)."""
    try:
        period = float(os.environ.get(HEARTBEAT_VAR, DEFAULT_HEARTBEAT))
    except ValueError:
        return DEFAULT_HEARTBEAT
    return period if period > 0 else DEFAULT_HEARTBEAT


def stale_after() -> dt.timedelta:
    """How old a heartbeat may be before its service counts as dead."""
    period = heartbeat_period()
    return dt.timedelta(seconds=max(3 * period, period + 5))


def this_host() -> str:
    return socket.gethostname()


def register(session: Session, name: str, interval: int) -> models.Service:
    """Create or update the registration of `name`."""
    row = session.get(models.Service, name)
    if row is None:
        row = models.Service(name=name, state="stopped")
        session.add(row)
    row.interval = interval
    session.flush()
    return row


def rows(session: Session) -> list[models.Service]:
    """Every registered service, by name."""
    query = select(models.Service).order_by(models.Service.name)
    return list(session.scalars(query))


@dataclass(frozen=True)
class View:
    """A service as `--status` shows it, with its state worked out."""

    name: str
    interval: int
    host: str
    pid: int | None
    state: str
    heartbeat: dt.datetime | None
    error: str
    error_at: dt.datetime | None
    next_run: dt.datetime | None


LocalCheck = Callable[[str], int | None]


def view(
    row: models.Service,
    local_pid: LocalCheck,
    now: dt.datetime | None = None,
) -> View:
    """What `row` means now; `local_pid(name)` answers for this host."""
    state = effective_state(row, local_pid, now)
    return View(
        name=row.name,
        interval=row.interval,
        host=row.host,
        pid=row.pid,
        state=state,
        heartbeat=row.last_heartbeat,
        error=row.last_error,
        error_at=row.last_error_at,
        next_run=row.next_run if state in LIVE_STATES else None,
    )


def effective_state(
    row: models.Service,
    local_pid: LocalCheck,
    now: dt.datetime | None = None,
) -> str:
    """The row's state, or `dead` if its process is gone or silent."""
    if row.state not in LIVE_STATES:
        return row.state
    if row.host == this_host() and local_pid(row.name) != row.pid:
        return "dead"
    beat = row.last_heartbeat
    if beat is None or (now or utcnow()) - beat > stale_after():
        return "dead"
    return row.state


def is_running(session: Session, name: str) -> bool:
    """True if `name` runs somewhere, judged by its heartbeat alone."""
    row = session.get(models.Service, name)
    return row is not None and effective_state(row, lambda _: row.pid) in (
        LIVE_STATES
    )
