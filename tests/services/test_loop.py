"""The loop runner in-process: schedule, errors, back-off, heartbeat."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from skyway.db import models
from skyway.db.engine import migrate, session_scope
from skyway.services.loop import Beat, Loop, backoff, describe
from skyway.services.registry import Task
from tests.services.conftest import wait_for


def test_backoff_doubles_up_to_the_cap() -> None:
    assert [backoff(n, 60) for n in range(1, 6)] == [5, 10, 20, 40, 60]
    assert [backoff(n, 1) for n in (1, 2, 3, 7, 8)] == [1, 2, 4, 60, 60]
    assert backoff(20, 3600) == 3600
    assert backoff(3, 2) == 8


def test_describe_keeps_skyway_messages_plain() -> None:
    from skyway.errors import DatabaseError

    assert describe(DatabaseError("db down")) == "db down"
    assert describe(KeyError("x")) == "KeyError: 'x'"
    assert describe(RuntimeError()) == "RuntimeError: RuntimeError"


@pytest.fixture
def db(sqlite_url: str) -> str:
    migrate(sqlite_url)
    return sqlite_url


def row(url: str, name: str) -> models.Service | None:
    with session_scope(url) as session:
        return session.get(models.Service, name)


def run_in_thread(loop: Loop) -> threading.Thread:
    thread = threading.Thread(target=loop.run, daemon=True)
    thread.start()
    return thread


def test_a_failing_task_is_retried_and_its_error_recorded(db: str) -> None:
    calls: list[str] = []

    def flaky() -> None:
        calls.append("x")
        if len(calls) <= 2:
            raise RuntimeError(f"attempt {len(calls)} failed")

    beat = Beat(db, "flaky", period=0.2)
    beat.start()
    loop = Loop("flaky", [Task("tick", flaky, 0.1)], beat)
    thread = run_in_thread(loop)

    wait_for(lambda: len(calls) >= 4, "two runs after the failures")
    loop.stop()
    thread.join(10)
    assert beat.stop(state="stopped")

    saved = row(db, "flaky")
    assert not thread.is_alive()
    assert saved is not None and saved.state == "stopped"
    assert saved.last_error == "tick: RuntimeError: attempt 2 failed"
    assert saved.last_error_at is not None
    assert loop.slots[0].failures == 0


def test_each_task_keeps_its_own_schedule(db: str) -> None:
    seen: dict[str, int] = {"main": 0, "often": 0}

    def count(key: str) -> Task:
        every = 3600 if key == "main" else 0.05
        return Task(key, lambda: seen.__setitem__(key, seen[key] + 1), every)

    beat = Beat(db, "two", period=0.2)
    beat.start()
    loop = Loop("two", [count("main"), count("often")], beat)
    thread = run_in_thread(loop)
    wait_for(lambda: seen["often"] >= 5, "the frequent task")
    loop.stop()
    thread.join(10)
    beat.stop(state="stopped")

    assert seen["main"] == 1
    saved = row(db, "two")
    assert saved is not None and saved.last_error == ""


def test_stop_interrupts_a_long_sleep(db: str) -> None:
    beat = Beat(db, "sleepy", period=0.2)
    beat.start()
    loop = Loop("sleepy", [Task("tick", lambda: None, 3600)], beat)
    thread = run_in_thread(loop)
    wait_for(
        lambda: (r := row(db, "sleepy")) is not None and r.state == "sleeping",
        "the loop to sleep",
    )

    loop.stop()
    thread.join(10)

    assert not thread.is_alive()
    saved = row(db, "sleepy")
    assert saved is not None and saved.next_run is not None
    assert (saved.next_run - saved.last_heartbeat).total_seconds() > 3000


def test_heartbeat_survives_an_unreachable_database(tmp_path: Path) -> None:
    beat = Beat("mysql+pymysql://nobody@127.0.0.1:9/none", "lost", 0.1)

    assert beat.write() is False
    assert beat.reachable is False
    beat.start()
    assert beat.stop(wait=0.3, state="stopped") is False


def test_a_loop_needs_a_task(db: str) -> None:
    with pytest.raises(ValueError, match="no tasks"):
        Loop("empty", [], Beat(db, "empty", 1))
