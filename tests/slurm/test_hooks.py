"""The hooks without Slurm: validation, the request queue, the spool."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from skyway import config
from skyway.cli import hooks
from skyway.db import engine, models
from skyway.db.sync import sync_accounts
from skyway.slurm import spool


@pytest.fixture
def site(root: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A root with its database; the hooks find it through SKYWAY_ROOT."""
    cfg = config.load(root)
    engine.migrate(cfg.database_url)
    with engine.session_scope(cfg.database_url) as session:
        sync_accounts(session, cfg)
    monkeypatch.setenv("SKYWAY_ROOT", str(root))
    monkeypatch.delenv("SLURM_RESUME_FILE", raising=False)
    return cfg.database_url


def _requests(url: str) -> list[tuple[str, str, str]]:
    with engine.session_scope(url) as session:
        rows = session.scalars(select(models.NodeRequest)).all()
        return [(r.node, r.action, r.trigger) for r in rows]


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert hooks.main([]) == 2
    assert hooks.main(["reboot", "a-c1-001"]) == 2
    assert "usage: hooks" in capsys.readouterr().err


def test_hostile_names_refused_rest_queued(
    site: str, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(hooks.FOREGROUND_VAR, "1")
    hostlist = "demo-local-c1-001,../x,a;b,demo-local-c9-001,rcc-gcp-c8-002"

    code = hooks.main(["suspend", hostlist])

    assert code == 2
    assert sorted(_requests(site)) == [
        ("demo-local-c1-001", "suspend", "hook:skyway-suspend"),
        ("rcc-gcp-c8-002", "suspend", "hook:skyway-suspend"),
    ]
    text = (root / "state" / "log" / "hooks.log").read_text()
    assert "refused node '../x': invalid node name" in text
    assert "refused node 'a;b': invalid node name" in text
    assert "account demo-local has no node type 'c9'" in text


def test_resume_fail_queues_fail_with_the_timeout(
    site: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(hooks.FOREGROUND_VAR, "1")

    assert hooks.main(["resume-fail", "rcc-aws-c1-[001-002]"]) == 0

    with engine.session_scope(site) as session:
        rows = session.scalars(select(models.NodeRequest)).all()
        assert [(r.node, r.action) for r in rows] == [
            ("rcc-aws-c1-001", "fail"),
            ("rcc-aws-c1-002", "fail"),
        ]
        assert rows[0].reason == (
            "did not register within ResumeTimeout (600 s)"
        )


def test_spooled_call_returns_and_a_drainer_queues_it(
    site: str, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(hooks.FOREGROUND_VAR, raising=False)

    assert hooks.main(["suspend", "rcc-azure-c8-001"]) == 0

    deadline = time.monotonic() + 60
    while not _requests(site) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _requests(site) == [
        ("rcc-azure-c8-001", "suspend", "hook:skyway-suspend")
    ]
    assert spool.pending(root / "state" / "slurm" / "spool") == []


def test_a_resume_is_queued_at_the_time_slurm_called(
    site: str, root: Path
) -> None:
    called = time.time() - 30.25
    item = spool.Call("resume", "demo-local-c1-001", called)

    hooks._handle(config.load(root), [item])

    with engine.session_scope(site) as session:
        row = session.scalars(select(models.NodeRequest)).one()
        queued = row.requested_at.replace(tzinfo=dt.UTC).timestamp()
    assert queued == pytest.approx(called, abs=0.001)


def test_a_drainer_is_not_started_for_an_empty_spool(tmp_path: Path) -> None:
    assert hooks.drain(None, tmp_path) == 0

    lock = spool.try_lock(tmp_path)  # nobody kept it
    assert lock is not None
    lock.close()


Handle = Callable[[config.Config, list[spool.Call]], object]


def _serve_with(
    handle: Handle, root: Path, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Serve the spool once with `handle` queueing the calls, quickly."""
    monkeypatch.setattr(hooks, "_handle", handle)
    monkeypatch.setattr(hooks, "RETRY_WAIT", 0.01)
    monkeypatch.setattr(hooks, "LINGER", 0.1)
    monkeypatch.setattr(hooks, "_start_worker", lambda *_: None)
    lock = spool.try_lock(folder)
    assert lock is not None
    try:
        hooks._serve(config.load(root), folder, lock)
    finally:
        lock.close()


def test_a_call_that_fails_stays_spooled_and_is_tried_again(
    site: str, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = root / "state" / "slurm" / "spool"
    spool.put(folder, spool.Call("suspend", "rcc-azure-c8-001", 1.0))
    real = hooks._handle
    tries: list[int] = []

    def flaky(cfg: config.Config, items: list[spool.Call]) -> object:
        tries.append(len(items))
        if len(tries) < 3:
            raise RuntimeError("database is away")
        return real(cfg, items)

    _serve_with(flaky, root, folder, monkeypatch)

    assert tries == [1, 1, 1]
    assert _requests(site) == [
        ("rcc-azure-c8-001", "suspend", "hook:skyway-suspend")
    ]
    assert spool.pending(folder) == []


def test_a_call_that_keeps_failing_is_set_aside_alone(
    site: str,
    root: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    folder = root / "state" / "slurm" / "spool"
    spool.put(folder, spool.Call("suspend", "rcc-azure-c8-001", 1.0))
    spool.put(folder, spool.Call("suspend", "rcc-azure-c8-002", 2.0))
    real = hooks._handle

    def poisoned(cfg: config.Config, items: list[spool.Call]) -> object:
        if any(item.hostlist.endswith("001") for item in items):
            raise RuntimeError("this call always fails")
        return real(cfg, items)

    _serve_with(poisoned, root, folder, monkeypatch)

    assert _requests(site) == [
        ("rcc-azure-c8-002", "suspend", "hook:skyway-suspend")
    ]
    assert spool.pending(folder) == []
    [aside] = (folder / spool.FAILED).iterdir()
    assert spool.parse(aside.read_text()).hostlist == "rcc-azure-c8-001"
    assert "set aside suspend rcc-azure-c8-001 after 5 tries" in caplog.text


def test_a_drainer_that_cannot_start_says_why_beside_the_spool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(hooks.FOREGROUND_VAR, raising=False)
    folder = tmp_path / "spool"
    spool.put(folder, spool.Call("resume", "demo-local-c1-001", 1.0))

    assert hooks.drain(str(tmp_path / "no-such-root"), folder) == 0

    errors = folder / hooks.CRASH_LOG

    def said() -> str:
        return errors.read_text() if errors.exists() else ""

    deadline = time.monotonic() + 30
    while "not a Skyway root" not in said() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "drainer" in said() and "no-such-root" in said()
    assert len(spool.pending(folder)) == 1  # kept for a working drainer
