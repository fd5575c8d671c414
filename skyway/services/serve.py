"""Run one service in the foreground: what `--start` and systemd launch.

The process locks its pid file, writes its heartbeat, runs its tasks
until SIGTERM or SIGINT, and leaves its row `stopped` (or `crashed`,
with the error, if something it cannot survive happened).
"""

from __future__ import annotations

import logging
import os
import signal

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
    lock = supervise.PidLock(supervise.pid_file(config, name))
    lock.acquire()
    try:
        return _serve_locked(config, name)
    finally:
        lock.release()


def _serve_locked(config: Config, name: str) -> int:
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
        loop = Loop(name, registry.tasks(_context(config, name)), beat)
        _on_signals(loop)
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


def _on_signals(loop: Loop) -> None:
    signal.signal(signal.SIGTERM, loop.stop)
    signal.signal(signal.SIGINT, loop.stop)
