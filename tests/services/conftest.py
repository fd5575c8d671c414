"""Fixtures for the service tests: a root with the trivial `ticker`."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, Cli

HEARTBEAT = "0.5"


def wait_for(
    check: Callable[[], object], what: str, timeout: float = 30.0
) -> object:
    """Poll `check` until it returns something true; fail naming `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"gave up after {timeout:g} s waiting for {what}")


@pytest.fixture
def service_root(root: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A root where `ticker` ticks every second; every service it starts
    is stopped (by its pid) at the end."""
    (root / "etc" / "services" / "ticker.yaml").write_text("interval: 1\n")
    monkeypatch.setenv("SKYWAY_SERVICE_PLUGINS", "tests.services.bodies")
    monkeypatch.setenv("SKYWAY_SERVICE_HEARTBEAT", HEARTBEAT)
    path = os.environ.get("PYTHONPATH", "")
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), path]))
    )
    yield root
    _kill_leftovers(root / "state" / "services")


def _kill_leftovers(folder: Path) -> None:
    from skyway import config
    from skyway.services import supervise

    if not folder.is_dir():
        return
    loaded = config.load(folder.parent.parent)
    for pid_file in folder.glob("*.pid"):
        pid = supervise.running_pid(loaded, pid_file.stem)
        if pid is not None:
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def ticker(service_root: Path, cli: Cli) -> Cli:
    """The CLI on a root where `ticker` is registered."""
    result = cli("service", "--regist", "ticker")
    assert result.code == 0, result.err
    return cli
