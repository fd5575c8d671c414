"""A database outage: services carry on when it returns, no restart.

The service talks to a real MariaDB or PostgreSQL through a proxy that
cuts every connection for a while (parametrized; short in CI).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from skyway.db import engine as db_engine
from tests.conftest import Cli, _fresh_database
from tests.services.bodies import files
from tests.services.conftest import wait_for
from tests.services.dbproxy import Proxy
from tests.services.test_supervise import pid_of, status_of, ticks

OUTAGES = [
    float(s) for s in os.environ.get("SKYWAY_TEST_OUTAGE", "6").split(",")
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
            cached = db_engine._ENGINES.pop(text, None)
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
