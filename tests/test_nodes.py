"""The request queue and the account worker: merging, locking, no loss."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from pathlib import Path

import pytest
from sqlalchemy import func, select

from skyway import locks, nodes
from skyway.config import Config
from skyway.db import engine, models
from skyway.errors import InputError, LockTimeout
from tests.terraform.helpers import Recorder, add_account, load

BURST = "burst"
WAIT = 180


@pytest.fixture
def burst_root(
    root: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """An account of 20 c1 nodes, on each kind of database."""
    add_account(root, BURST, nodes={"c1": 20}, local={"network": "10.9.0.0/24"})
    monkeypatch.setenv("SKYWAY_DB_URL", db_url)
    monkeypatch.setenv("SLURM_CONF", "/dev/null")
    return root


def node(index: int) -> str:
    return f"{BURST}-c1-{index:03d}"


def count(config: Config, model: type[models.Base], **where: str) -> int:
    with engine.session_scope(config.database_url) as session:
        query = select(func.count()).select_from(model)
        for key, value in where.items():
            query = query.where(getattr(model, key) == value)
        return int(session.scalar(query) or 0)


def wait_for_queue(config: Config) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        busy = sum(
            count(config, models.NodeRequest, account=BURST, state=state)
            for state in ("pending", "running")
        )
        if busy == 0 and locks.is_free(config, BURST):
            return
        time.sleep(0.2)
    raise AssertionError("the queue did not drain")


def provisioner_intervals(root: Path) -> dict[int, list[tuple[float, float]]]:
    """Start and end of every provisioner, by its Terraform process."""
    starts: dict[tuple[str, str, int], float] = {}
    spans: dict[int, list[tuple[float, float]]] = defaultdict(list)
    log = root / "state" / "local-nodes" / "events.log"
    for line in log.read_text().splitlines():
        stamp, action, phase, name, parent = line.split()
        key = (action, name, int(parent))
        if phase == "start":
            starts[key] = float(stamp)
        else:
            spans[int(parent)].append((starts.pop(key), float(stamp)))
    return spans


def test_twenty_concurrent_changes_never_overlap_and_none_is_lost(
    burst_root: Path,
) -> None:
    config = load(burst_root)
    (burst_root / "state").mkdir(exist_ok=True)
    (burst_root / "state" / "local-boot-delay").write_text("0.3")
    errors: list[BaseException] = []

    def hook(index: int) -> None:
        try:
            with engine.session_scope(config.database_url) as session:
                nodes.request(
                    session, BURST, [node(index)], "resume", jobs=str(index)
                )
            nodes.ensure_worker(config, BURST)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=hook, args=(i,)) for i in range(1, 21)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wait_for_queue(config)

    assert errors == []
    assert count(config, models.NodeRequest, state="done") == 20
    with engine.session_scope(config.database_url) as session:
        rows = list(session.scalars(select(models.NodeMap)))
        runs = list(
            session.scalars(
                select(models.TerraformRun).order_by(models.TerraformRun.id)
            )
        )
    assert sorted(r.name for r in rows) == [node(i) for i in range(1, 21)]
    assert {r.state for r in rows} == {"up"}
    assert len({r.address for r in rows}) == 20
    assert count(config, models.NodeJournal) == 20
    assert 1 <= len(runs) <= 20
    assert sum(r.summary["add"] for r in runs) == 20
    for before, after in zip(runs, runs[1:], strict=False):
        assert before.finished_at is not None
        assert before.finished_at <= after.started_at
    spans = provisioner_intervals(burst_root)
    assert sum(len(s) for s in spans.values()) == 20
    for parent, mine in spans.items():
        for other, theirs in spans.items():
            if parent == other:
                continue
            for start, end in mine:
                for their_start, their_end in theirs:
                    assert end <= their_start or their_end <= start


def test_requests_queued_during_a_run_join_the_next_one(
    burst_root: Path,
) -> None:
    config = load(burst_root)

    with locks.account_lock(config, BURST):
        for index in range(1, 6):
            with engine.session_scope(config.database_url) as session:
                nodes.request(session, BURST, [node(index)], "resume")
            nodes.ensure_worker(config, BURST)
        with pytest.raises(LockTimeout):
            nodes.work(_quick(config), BURST, Recorder())
    result = nodes.work(config, BURST, Recorder())

    assert result.requests == 5 and len(result.runs) == 1
    assert sorted(result.up) == [node(i) for i in range(1, 6)]
    assert count(config, models.NodeRequest, state="done") == 5


def _quick(config: Config) -> Config:
    """The same configuration with a lock timeout of zero."""
    settings = config.settings.model_copy(
        update={
            "terraform": config.settings.terraform.model_copy(
                update={"lock_timeout": 0}
            )
        }
    )
    return Config(
        config.root, settings, config.vendors, config.accounts, config.services
    )


def test_lock_is_exclusive_and_released(burst_root: Path) -> None:
    config = load(burst_root)
    held = threading.Event()
    release = threading.Event()

    def holder() -> None:
        with locks.account_lock(config, BURST):
            held.set()
            release.wait(30)

    thread = threading.Thread(target=holder)
    thread.start()
    held.wait(30)
    try:
        assert not locks.is_free(config, BURST)
        assert locks.is_free(config, "demo-local")
        busy = locks.account_lock(config, BURST, timeout=0.2)
        with pytest.raises(LockTimeout) as caught, busy:
            pass
        assert "busy with another Terraform run" in str(caught.value)
    finally:
        release.set()
        thread.join()
    assert locks.is_free(config, BURST)


def test_ensure_worker_starts_a_worker_that_drains_the_queue(
    burst_root: Path,
) -> None:
    config = load(burst_root)
    with engine.session_scope(config.database_url) as session:
        nodes.request(session, BURST, [node(1), node(2)], "resume")

    nodes.ensure_worker(config, BURST)
    wait_for_queue(config)

    assert count(config, models.NodeMap, state="up") == 2
    log = (burst_root / "state" / "log" / f"worker-{BURST}.log").read_text()
    assert f"worker for {BURST}: 2 requests" in log


def test_requests_a_dead_worker_left_running_are_taken_back(
    burst_root: Path,
) -> None:
    config = load(burst_root)
    with engine.session_scope(config.database_url) as session:
        [ident] = nodes.request(session, BURST, [node(3)], "resume")
        row = session.get(models.NodeRequest, ident)
        assert row is not None
        row.state = "running"

    result = nodes.work(config, BURST, Recorder())

    assert list(result.up) == [node(3)]
    assert count(config, models.NodeRequest, state="done") == 1


def test_resume_and_suspend_in_one_batch_leave_the_node_down(
    burst_root: Path,
) -> None:
    config = load(burst_root)
    with engine.session_scope(config.database_url) as session:
        nodes.request(session, BURST, [node(1), node(2)], "resume")
        nodes.request(session, BURST, [node(2)], "suspend")

    result = nodes.work(config, BURST, Recorder())

    assert list(result.up) == [node(1)]
    with engine.session_scope(config.database_url) as session:
        second = session.get(models.NodeMap, node(2))
    assert second is None or second.state != "up"
    assert count(config, models.NodeRequest, state="done") == 3


@pytest.mark.parametrize(
    ("account", "names", "action", "message"),
    [
        (BURST, [node(1)], "reboot", "unknown action 'reboot'"),
        ("Burst", [node(1)], "resume", "invalid account name"),
        (BURST, ["burst-c1-001;ls"], "resume", "invalid node name"),
        (BURST, ["other-c1-001"], "resume", "not a node of account burst"),
    ],
)
def test_bad_requests_queue_nothing(
    burst_root: Path,
    account: str,
    names: list[str],
    action: str,
    message: str,
) -> None:
    config = load(burst_root)

    scope = engine.session_scope(config.database_url)
    with pytest.raises(InputError) as caught, scope as session:
        nodes.request(session, account, names, action)

    assert message in str(caught.value)
    assert count(config, models.NodeRequest) == 0
