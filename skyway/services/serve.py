"""Run one service in the foreground: what `--start` and systemd launch.

Signals are caught first thing, so a stop that comes while the process
is still starting is a clean stop too. The process locks its pid file,
writes its heartbeat, runs its tasks until SIGTERM, SIGINT or a stop
file, and leaves its row `stopped` (or `crashed`, with the error, if
something it cannot survive happened).
"""

from __future__ import annotations

import logging
import os
import signal
import threading

from skyway.config import Config
from skyway.db import models
from skyway.db.engine import session_scope
from skyway.db.models import utcnow
from skyway.services import registry, status, supervise
from skyway.services.loop import Beat, Loop, describe

log = logging.getLogger(__name__)


def serve(config: Config, name: str) -> int:
    """Run `name` until asked to stop; return the process exit code."""
    registry.check(config, name)
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    lock = supervise.PidLock(supervise.pid_file(config, name))
    lock.acquire()
    try:
        return _serve_locked(config, name, stopping)
    finally:
        lock.release()


def _serve_locked(config: Config, name: str, stopping: threading.Event) -> int:
    db_url = config.database_url
    beat = Beat(db_url, name, status.heartbeat_period())
    beat.set(
        host=status.this_host(),
        pid=os.getpid(),
        state="starting",
        started_at=utcnow(),
        next_run=None,
    )
    beat.start()
    log.info("%s: started as pid %d", name, os.getpid())
    try:
        tasks = registry.tasks(_context(config, name))
        loop = Loop(
            name,
            tasks,
            beat,
            signals=True,
            stop_file=supervise.stop_file(config, name),
            stopping=stopping,
        )
        loop.run()
    except BaseException as exc:
        log.exception("%s: crashed", name)
        beat.stop(
            state="crashed",
            last_error=f"crashed: {describe(exc)}",
            last_error_at=utcnow(),
        )
        return 1
    beat.stop(state="stopped", next_run=None)
    log.info("%s: stopped", name)
    return 0


def _context(config: Config, name: str) -> registry.Context:
    settings = registry.settings(config, name)
    return registry.Context(
        config=config,
        name=name,
        db_url=config.database_url,
        interval=_interval(config.database_url, name, settings.interval),
        settings=settings,
    )


def _interval(db_url: str, name: str, default: int) -> float:
    """The registered interval; the file's if the database cannot say."""
    try:
        with session_scope(db_url) as session:
            row = session.get(models.Service, name)
            return float(row.interval if row is not None else default)
    except Exception as exc:  # an outage at start must not stop the start
        log.warning("%s: using interval %d s: %s", name, default, exc)
        return float(default)
