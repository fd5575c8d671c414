"""`--status` from the heartbeats alone, as another host sees it."""

from __future__ import annotations

import datetime as dt

from skyway import config
from skyway.db import models
from skyway.db.engine import session_scope
from skyway.db.models import utcnow
from skyway.services import status
from tests.conftest import Cli
from tests.services.test_supervise import pid_of, status_of


def _pretend_elsewhere(cli: Cli, age: float) -> None:
    url = config.load(cli.root).database_url
    with session_scope(url) as session:
        row = session.get(models.Service, "ticker")
        assert row is not None
        row.host = "node-b.example"
        row.pid = 4242
        row.state = "sleeping"
        row.last_heartbeat = utcnow() - dt.timedelta(seconds=age)
        row.next_run = utcnow() + dt.timedelta(seconds=30)


def test_a_live_service_on_another_host(ticker: Cli) -> None:
    _pretend_elsewhere(ticker, age=0)

    row = status_of(ticker, "ticker")
    start = ticker("service", "--start", "ticker")
    stop = ticker("service", "--stop", "ticker")

    assert row["state"] == "sleeping"
    assert row["host"] == "node-b.example"
    assert row["pid"] == "4242"
    assert start.code == 1
    assert "runs on host node-b.example (pid 4242)" in start.err
    assert stop.code == 1 and "stop it there" in stop.err
    assert pid_of(ticker.root) is None


def test_a_silent_service_on_another_host_is_dead(ticker: Cli) -> None:
    _pretend_elsewhere(ticker, age=status.stale_after().total_seconds() + 1)

    row = status_of(ticker, "ticker")
    start = ticker("service", "--start", "ticker")

    assert row["state"] == "dead"
    assert row["next run"] == "-"
    assert start.code == 0, start.err
    assert status_of(ticker, "ticker")["host"] != "node-b.example"


def test_is_running_judges_by_heartbeat(ticker: Cli) -> None:
    url = config.load(ticker.root).database_url
    _pretend_elsewhere(ticker, age=0)
    with session_scope(url) as session:
        fresh = status.is_running(session, "ticker")
        missing = status.is_running(session, "cloud-demo-local")
    _pretend_elsewhere(ticker, age=3600)
    with session_scope(url) as session:
        stale = status.is_running(session, "ticker")

    assert (fresh, missing, stale) == (True, False, False)
