"""A database outage: services carry on when it returns, no restart.

The service talks to a real MariaDB or PostgreSQL through a proxy that
cuts every connection for a while: six seconds, and a full minute for
the main test (SKYWAY_TEST_OUTAGE=6 keeps it short while developing).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from skyway import nodes
from skyway.db import engine, models
from skyway.services import supervise
from tests.conftest import Cli, _fresh_database
from tests.services.bodies import files
from tests.services.conftest import wait_for
from tests.services.dbproxy import Proxy
from tests.services.test_supervise import pid_of, status_of, ticks
from tests.test_reconcile import load, records

NODE = "demo-local-c1-001"

OUTAGES = [
    float(s) for s in os.environ.get("SKYWAY_TEST_OUTAGE", "6,60").split(",")
]


@pytest.fixture(params=["mariadb", "postgres"])
def proxied_url(request: pytest.FixtureRequest) -> Iterator[tuple[str, Proxy]]:
    for url in _fresh_database(request.param):
        real = sa.engine.make_url(url)
        proxy = Proxy(real.host or "127.0.0.1", real.port or 0)
        through = real.set(host="127.0.0.1", port=proxy.port)
        text = through.render_as_string(hide_password=False)
        try:
            yield text, proxy
        finally:
            proxy.close()
            cached = engine._ENGINES.pop(text, None)
            if cached is not None:
                cached.dispose()


@pytest.mark.parametrize("outage", OUTAGES)
def test_service_carries_on_after_a_database_outage(
    service_root: Path,
    cli: Cli,
    proxied_url: tuple[str, Proxy],
    monkeypatch: pytest.MonkeyPatch,
    outage: float,
) -> None:
    url, proxy = proxied_url
    monkeypatch.setenv("SKYWAY_DB_URL", url)
    assert cli("service", "--regist", "ticker").code == 0
    assert cli("service", "--start", "ticker").code == 0
    pid = pid_of(service_root)
    wait_for(lambda: len(ticks(service_root)) >= 2, "ticks before")

    proxy.block()
    cut_at = len(ticks(service_root))
    time.sleep(outage)
    during = len(ticks(service_root)) - cut_at
    proxy.unblock()
    back_at = len(ticks(service_root))
    wait_for(lambda: len(ticks(service_root)) >= back_at + 2, "ticks after")
    row = wait_for(
        lambda: (r := status_of(cli, "ticker"))["last error"] != "-" and r,
        "the outage in last error",
    )

    assert during <= 1  # at most the tick that was past its query
    assert proxy.turned_away > 0
    assert pid_of(service_root) == pid
    assert row["pid"] == str(pid)
    assert row["state"] in ("running", "sleeping")
    assert "database error" in row["last error"]
    assert {line.split()[0] for line in ticks(service_root)} == {str(pid)}
    assert cli("service", "--stop", "ticker").code == 0
    assert status_of(cli, "ticker")["state"] == "stopped"
    assert not files(service_root / "state")["fail"].exists()


@pytest.mark.parametrize("outage", OUTAGES[:1])
def test_service_carries_on_after_a_network_stall(
    service_root: Path,
    cli: Cli,
    proxied_url: tuple[str, Proxy],
    monkeypatch: pytest.MonkeyPatch,
    outage: float,
) -> None:
    """Nothing refused, nothing reset: every byte held, then let go."""
    url, proxy = proxied_url
    monkeypatch.setenv("SKYWAY_DB_URL", url)
    assert cli("service", "--regist", "ticker").code == 0
    assert cli("service", "--start", "ticker").code == 0
    pid = pid_of(service_root)
    wait_for(lambda: len(ticks(service_root)) >= 2, "ticks before")

    proxy.stall()
    time.sleep(0.5)  # a tick already past its query may still land
    held_at = len(ticks(service_root))
    time.sleep(outage)
    during = len(ticks(service_root)) - held_at
    proxy.resume()
    wait_for(lambda: len(ticks(service_root)) >= held_at + 3, "ticks after")
    row = status_of(cli, "ticker")
    stopped = cli("service", "--stop", "ticker")

    assert during == 0
    assert pid_of(service_root) is None and stopped.code == 0
    assert row["pid"] == str(pid)
    assert row["state"] in ("running", "sleeping")
    assert {line.split()[0] for line in ticks(service_root)} == {str(pid)}


@pytest.mark.parametrize("outage", OUTAGES[:1])
def test_cloud_service_serves_requests_after_an_outage(
    service_root: Path,
    cli: Cli,
    proxied_url: tuple[str, Proxy],
    monkeypatch: pytest.MonkeyPatch,
    outage: float,
) -> None:
    url, proxy = proxied_url
    monkeypatch.setenv("SKYWAY_DB_URL", url)
    service = "cloud-demo-local"
    (service_root / "etc" / "services" / f"{service}.yaml").write_text(
        "interval: 2\ngrace: 600\n"
    )
    config = load(service_root)
    assert cli("service", "--regist", service).code == 0
    assert cli("service", "--start", service).code == 0
    pid = supervise.running_pid(config, service)
    wait_for(
        lambda: status_of(cli, service)["state"] == "sleeping",
        "a first round",
    )

    proxy.block()
    time.sleep(outage)
    proxy.unblock()
    with engine.session_scope(url) as session:
        nodes.request(session, "demo-local", [NODE], "resume", trigger="hook")
    wait_for(lambda: NODE in records(config), "the node after the outage", 60)
    row = wait_for(
        lambda: (r := status_of(cli, service))["last error"] != "-" and r,
        "the outage in last error",
    )
    stopped = cli("service", "--stop", service)

    assert isinstance(row, dict) and row["pid"] == str(pid)
    assert "database" in row["last error"]
    assert supervise.running_pid(config, service) is None
    assert stopped.code == 0 and f"(pid {pid})" in stopped.out
    with engine.session_scope(url) as session:
        node = session.get(models.NodeMap, NODE)
        assert node is not None and node.state == "up"
