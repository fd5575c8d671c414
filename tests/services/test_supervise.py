"""Services on this host: register, start, status, stop, crashes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from skyway import config
from skyway.services import supervise
from tests.conftest import Cli
from tests.services.bodies import files
from tests.services.conftest import wait_for


def parse_table(out: str) -> list[dict[str, str]]:
    """Rows of a tabulate "simple" table, cut along its rule line."""
    import re

    lines = out.splitlines()
    spans = [m.span() for m in re.finditer(r"-+", lines[1])]
    cut = [[line[a:b].strip() for a, b in spans] for line in lines]
    return [dict(zip(cut[0], row, strict=True)) for row in cut[2:]]


def status_of(cli: Cli, name: str) -> dict[str, str]:
    result = cli("service", "--status")
    assert result.code == 0, result.err
    for row in parse_table(result.out):
        if row["service"] == name:
            return row
    raise AssertionError(f"{name} not in --status:\n{result.out}")


def ticks(root: Path) -> list[str]:
    path = files(root / "state")["ticks"]
    return path.read_text().splitlines() if path.exists() else []


def pid_of(root: Path, name: str = "ticker") -> int | None:
    return supervise.running_pid(config.load(root), name)


def test_regist_and_list(service_root: Path, cli: Cli) -> None:
    for name in ("billing", "cloud-demo-local"):
        assert cli("service", "--regist", name).code == 0

    listed = cli("service")

    assert listed.code == 0
    rows = {
        line.split()[0]: line.split() for line in listed.out.splitlines()[2:]
    }
    assert rows["billing"][1:3] == ["3600", "s"]
    assert rows["cloud-demo-local"][1:3] == ["60", "s"]


@pytest.mark.parametrize("name", ["cloud-nope", "bill;ing", "../x", ""])
def test_regist_refuses_unknown_names(
    service_root: Path, cli: Cli, name: str
) -> None:
    result = cli("service", "--regist", name)

    assert result.code == 2
    assert len(result.err.strip().splitlines()) == 1
    assert "expected one of: cloud-demo-local" in result.err
    assert cli("service").out.strip() == "(none)"


def test_two_actions_at_once_are_refused(ticker: Cli) -> None:
    result = ticker("service", "--start", "ticker", "--stop", "ticker")

    assert result.code == 2
    assert "at most one of" in result.err
    assert pid_of(ticker.root) is None


def test_start_needs_a_registration(service_root: Path, cli: Cli) -> None:
    result = cli("service", "--start", "ticker")

    assert result.code == 2
    assert "--regist ticker" in result.err
    assert pid_of(service_root) is None


def test_start_status_stop(ticker: Cli) -> None:
    root = ticker.root

    started = ticker("service", "--start", "ticker")
    assert started.code == 0, started.err
    pid = pid_of(root)
    assert pid is not None and f"pid {pid}" in started.out
    wait_for(lambda: len(ticks(root)) >= 2, "two ticks")
    again = ticker("service", "--start", "ticker")
    row = status_of(ticker, "ticker")
    stopped = ticker("service", "--stop", "ticker")
    after = status_of(ticker, "ticker")

    assert again.code == 1 and "already running" in again.err
    assert row["state"] in ("running", "sleeping")
    assert row["pid"] == str(pid)
    assert row["host"] == os.uname().nodename
    assert row["next run"] != "-"
    assert stopped.code == 0 and f"stopped ticker (pid {pid})" in stopped.out
    assert after["state"] == "stopped"
    assert after["next run"] == "-"
    assert not supervise.pid_file(config.load(root), "ticker").exists()
    assert {line.split()[0] for line in ticks(root)} == {str(pid)}


def test_stop_when_not_running(ticker: Cli) -> None:
    result = ticker("service", "--stop", "ticker")

    assert result.code == 0
    assert "ticker is not running" in result.out


def test_restart_gives_a_new_process(ticker: Cli) -> None:
    assert ticker("service", "--start", "ticker").code == 0
    first = pid_of(ticker.root)

    result = ticker("service", "--restart", "ticker")

    assert result.code == 0, result.err
    second = pid_of(ticker.root)
    assert first is not None and second is not None and second != first
    assert f"stopped ticker (pid {first})" in result.out
    out = ticker("service", "--status").out
    assert status_of(ticker, "ticker")["pid"] == str(second), out


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.mark.parametrize("holder", ["dead", "alive-unrelated", "garbage"])
def test_a_stale_pid_file_never_blocks_a_start(
    ticker: Cli, holder: str
) -> None:
    path = supervise.pid_file(config.load(ticker.root), "ticker")
    path.parent.mkdir(parents=True, exist_ok=True)
    text = {
        "dead": str(_dead_pid()),
        "alive-unrelated": str(os.getpid()),
        "garbage": "not a pid",
    }[holder]
    path.write_text(text + "\n")

    result = ticker("service", "--start", "ticker")

    assert result.code == 0, result.err
    pid = pid_of(ticker.root)
    assert pid is not None and str(pid) != text
    assert path.read_text().strip() == str(pid)
    wait_for(lambda: ticks(ticker.root), "a tick")


def test_crashed_service_shows_dead_with_its_error_and_starts_again(
    ticker: Cli,
) -> None:
    root = ticker.root
    fail = files(root / "state")["fail"]
    fail.write_text("cloud API said no\n")
    assert ticker("service", "--start", "ticker").code == 0
    pid = pid_of(root)
    assert pid is not None
    wait_for(
        lambda: (
            "cloud API said no" in status_of(ticker, "ticker")["last error"]
        ),
        "the error in --status",
    )

    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: pid_of(root) is None, "the process to die")
    dead = status_of(ticker, "ticker")
    fail.unlink()
    restarted = ticker("service", "--start", "ticker")

    assert dead["state"] == "dead"
    assert dead["pid"] == str(pid)
    assert "tick: RuntimeError: cloud API said no" in dead["last error"]
    assert restarted.code == 0, restarted.err
    wait_for(lambda: ticks(root), "a tick after the restart")
    assert status_of(ticker, "ticker")["state"] in ("running", "sleeping")


def test_fatal_error_leaves_the_service_crashed_with_its_reason(
    ticker: Cli,
) -> None:
    root = ticker.root
    assert ticker("service", "--start", "ticker").code == 0
    wait_for(lambda: ticks(root), "a first tick")
    # Crash once running: a crash before `--start` sees the pid lock is
    # reported by `--start` itself instead.
    files(root / "state")["crash"].write_text("out of file handles\n")

    wait_for(lambda: pid_of(root) is None, "the crash")
    row = status_of(ticker, "ticker")
    files(root / "state")["crash"].unlink()
    before = len(ticks(root))
    again = ticker("service", "--start", "ticker")

    assert row["state"] == "crashed"
    assert "crashed: SystemExit: out of file handles" in row["last error"]
    assert again.code == 0, again.err
    wait_for(lambda: len(ticks(root)) > before, "a tick after the restart")


def test_sigterm_lets_the_running_task_finish(ticker: Cli) -> None:
    root = ticker.root
    files(root / "state")["slow"].write_text("3")
    assert ticker("service", "--start", "ticker").code == 0
    pid = pid_of(root)
    wait_for(
        lambda: status_of(ticker, "ticker")["state"] == "running",
        "the slow tick to start",
    )

    result = ticker("service", "--stop", "ticker")

    assert result.code == 0, result.err
    assert [line.split()[0] for line in ticks(root)] == [str(pid)]
    assert status_of(ticker, "ticker")["state"] == "stopped"


def test_start_failure_is_one_line_with_the_log(
    ticker: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(ticker.root / "nowhere"))

    result = ticker("service", "--start", "ticker")

    assert result.code == 1
    assert "ticker exited with 2 at start" in result.err
    assert "cannot import the service plugin" in result.err
    assert pid_of(ticker.root) is None


def test_a_held_pid_file_means_running(ticker: Cli) -> None:
    path = supervise.pid_file(config.load(ticker.root), "ticker")
    held = supervise.PidLock(path)
    held.acquire()
    try:
        result = ticker("service", "--start", "ticker")
        found = pid_of(ticker.root)
    finally:
        held.release()

    assert result.code == 1
    assert f"already running (pid {os.getpid()})" in result.err
    assert found == os.getpid()
    assert pid_of(ticker.root) is None
    assert not path.exists()
