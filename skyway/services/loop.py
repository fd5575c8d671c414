"""The loop every service runs: tasks on schedule, a heartbeat, errors.

A task that fails is logged, its error lands in the service's row
(`last_error`), and it is retried with an exponential back-off; the
loop itself never dies of it. The heartbeat is written by its own
thread, so a long Terraform apply does not make a service look dead,
and a database outage only delays the writes: the service carries on
when the database returns, without a restart.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skyway.db import models
from skyway.db.engine import session_scope
from skyway.db.models import utcnow
from skyway.services.registry import Task

log = logging.getLogger(__name__)

BACKOFF_BASE = 5.0
BACKOFF_CAP = 60.0
FINAL_WRITE_WAIT = 10.0
MAX_ERROR = 4000
STOP_POLL = 0.5


def backoff(failures: int, every: float) -> float:
    """Seconds to wait after `failures` failures in a row of a task."""
    base = min(every, BACKOFF_BASE)
    cap = max(every, BACKOFF_CAP)
    return float(min(cap, base * 2 ** (failures - 1)))


def describe(exc: BaseException) -> str:
    """An error as one readable line for `last_error`."""
    from skyway.errors import SkywayError

    text = str(exc).strip() or type(exc).__name__
    if not isinstance(exc, SkywayError):
        text = f"{type(exc).__name__}: {text}"
    return text[:MAX_ERROR]


class Beat:
    """The service's row, written from its own thread.

    The loop calls `set()` with what changed; the thread writes the row
    at once and again every `period` seconds with a fresh heartbeat. A
    failed write is retried on the next beat, never raised.
    """

    def __init__(self, db_url: str, name: str, period: float) -> None:
        self.db_url = db_url
        self.name = name
        self.period = period
        self.reachable = True
        self._fields: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._poke = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"heartbeat-{name}", daemon=True
        )

    def set(self, **fields: Any) -> None:
        """Change fields of the row; they are written right away."""
        with self._lock:
            self._fields.update(fields)
        self._poke.set()

    def start(self) -> None:
        self._thread.start()

    def stop(self, wait: float = FINAL_WRITE_WAIT, **fields: Any) -> bool:
        """Stop beating and write the last state; True if it was written.

        The last write is retried for `wait` seconds, so a service that
        stops during a short outage still leaves its row right.
        """
        self._done.set()
        self._poke.set()
        self._thread.join()
        with self._lock:
            self._fields.update(fields)
        deadline = time.monotonic() + wait
        while not self.write():
            if time.monotonic() > deadline:
                return False
            time.sleep(min(self.period, 1.0))
        return True

    def _run(self) -> None:
        while not self._done.is_set():
            self._poke.clear()
            self.write()
            self._poke.wait(self.period)

    def write(self) -> bool:
        """Write the row with a fresh heartbeat; False if it failed."""
        with self._lock:
            fields = dict(self._fields)
        try:
            with session_scope(self.db_url) as session:
                row = session.get(models.Service, self.name)
                if row is None:
                    row = models.Service(name=self.name)
                    session.add(row)
                for key, value in fields.items():
                    setattr(row, key, value)
                row.last_heartbeat = utcnow()
        except Exception as exc:  # never let the heartbeat thread die
            self._unreachable(exc)
            return False
        if not self.reachable:
            log.warning("%s: database reachable again", self.name)
            self.reachable = True
        return True

    def _unreachable(self, exc: Exception) -> None:
        if self.reachable:
            log.warning(
                "%s: cannot write heartbeat (%s); retrying every %g s",
                self.name,
                describe(exc),
                self.period,
            )
        self.reachable = False


@dataclass
class _Slot:
    """A task's place in the schedule."""

    task: Task
    due: float
    failures: int = 0


class Loop:
    """Runs tasks when due until `stop()`; the first task is the main one.

    With `signals`, SIGTERM and SIGINT ask it to stop, and so does the
    file `stop_file` (what `supervise.stop` writes before signalling):
    Terraform, running inside the process, takes SIGTERM for itself
    while it runs, so the handlers are put back after every task and
    the file is the backstop for a signal that landed meanwhile.
    """

    def __init__(
        self,
        name: str,
        tasks: Sequence[Task],
        beat: Beat,
        *,
        signals: bool = False,
        stop_file: Path | None = None,
        stopping: threading.Event | None = None,
    ) -> None:
        if not tasks:
            raise ValueError(f"service {name} has no tasks")
        now = time.monotonic()
        self.name = name
        self.beat = beat
        self.slots = [_Slot(task, now) for task in tasks]
        self.stopping = stopping or threading.Event()
        self.signals = signals
        self.stop_file = stop_file
        self._asleep = False

    def stop(self, *_: object) -> None:
        """Ask the loop to end after the task it is running (signal-safe)."""
        self.stopping.set()

    def run(self) -> None:
        """Run due tasks and sleep between them until asked to stop."""
        self._catch_signals()
        while not self._asked_to_stop():
            slot = min(self.slots, key=lambda s: s.due)
            delay = slot.due - time.monotonic()
            if delay > 0:
                self._sleep(delay)
                continue
            self._step(slot)
            self._catch_signals()

    def _sleep(self, delay: float) -> None:
        """Wait for the next task; tell the database once per sleep."""
        if not self._asleep:
            self.beat.set(state="sleeping", next_run=self._next_run())
            self._asleep = True
        self.stopping.wait(min(delay, STOP_POLL))

    def _catch_signals(self) -> None:
        if self.signals:
            signal.signal(signal.SIGTERM, self.stop)
            signal.signal(signal.SIGINT, self.stop)

    def _asked_to_stop(self) -> bool:
        if self.stop_file is not None and self.stop_file.exists():
            log.info("%s: found %s", self.name, self.stop_file)
            self.stopping.set()
        return self.stopping.is_set()

    def _step(self, slot: _Slot) -> None:
        self._asleep = False
        self.beat.set(state="running", next_run=self._next_run())
        try:
            slot.task.run()
        except Exception as exc:
            slot.failures += 1
            wait = backoff(slot.failures, slot.task.every)
            log.exception(
                "%s: %s failed (%d in a row); next try in %g s",
                self.name,
                slot.task.name,
                slot.failures,
                wait,
            )
            self.beat.set(
                last_error=f"{slot.task.name}: {describe(exc)}",
                last_error_at=utcnow(),
            )
        else:
            slot.failures = 0
            wait = slot.task.every
        slot.due = time.monotonic() + wait

    def _next_run(self) -> dt.datetime:
        ahead = max(0.0, self.slots[0].due - time.monotonic())
        return utcnow() + dt.timedelta(seconds=ahead)
