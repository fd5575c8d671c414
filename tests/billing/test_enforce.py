"""Enforcement on a simulated clock: the rate cap, the amount, the mail."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from skyway import config
from skyway.billing import budget, enforce, estimate
from skyway.config import Config
from skyway.db import engine, models
from tests.billing.conftest import at, live
from tests.smtp import Inbox, smtp_server

ACCOUNT = "demo-local"
NODES = [f"{ACCOUNT}-c1-00{i}" for i in range(1, 5)] + [
    f"{ACCOUNT}-c2-00{i}" for i in range(1, 3)
]


@pytest.fixture
def smtp(root: Path) -> Iterator[Inbox]:
    """A local SMTP server; skyway.yaml and the PI's address point at it."""
    account = root / f"etc/accounts/{ACCOUNT}.yaml"
    data = yaml.safe_load(account.read_text())
    data["admins"] = ["pi@example.edu"]
    account.write_text(yaml.safe_dump(data))
    with smtp_server(root) as inbox:
        yield inbox


def body(message: Any) -> str:
    return str(message.get_payload(decode=True).decode())


class Slurm:
    """Records what enforcement asked of Slurm's accounting."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def hold(self, account: str) -> None:
        self.calls.append(("hold", account))

    def release(self, account: str) -> None:
        self.calls.append(("release", account))

    def cancel_jobs(self, account: str) -> None:
        self.calls.append(("cancel", account))


def set_budget(url: str, **values: str) -> None:
    with engine.session_scope(url) as session:
        budget.apply(
            session,
            ACCOUNT,
            budget.parse([f"{k}={v}" for k, v in values.items()]),
            "t",
        )


def admit(url: str, loaded: Config, nodes: list[str], now: dt.datetime) -> Any:
    with engine.session_scope(url) as session:
        return enforce.admit(session, loaded, ACCOUNT, nodes, now)


def test_admit_stops_at_the_rate_cap(sqlite_db: str, root: Path) -> None:
    loaded = config.load(root)
    set_budget(sqlite_db, rate="6")
    with engine.session_scope(sqlite_db) as session:
        for node in NODES[:4]:
            live(session, node, "2026-03-01 10:00")

    admitted, refused = admit(
        sqlite_db,
        loaded,
        [NODES[4], NODES[0], "rcc-aws-c1-001", "demo-local-x9-001"],
        at("2026-03-01 11:00"),
    )

    assert admitted == [NODES[0]]
    assert refused == {
        NODES[4]: "rate cap $6.00/h of demo-local reached: "
        "$4.00/h running + $2.50/h asked",
        "rcc-aws-c1-001": "rcc-aws-c1-001 is not a node of demo-local",
        "demo-local-x9-001": "demo-local-x9-001 is not a node of demo-local",
    }
    with engine.session_scope(sqlite_db) as session:
        row = session.get(models.Budget, ACCOUNT)
        assert row is not None
        assert row.rate_capped_at == at("2026-03-01 11:00")
        assert "rate cap $6.00/h" in row.rate_capped_reason


def test_admit_counts_what_it_admits(sqlite_db: str, root: Path) -> None:
    loaded = config.load(root)
    set_budget(sqlite_db, rate="6")

    admitted, refused = admit(sqlite_db, loaded, NODES, at("2026-03-01 11:00"))

    assert admitted == NODES[:4]
    assert sorted(refused) == NODES[4:]
    assert all("$4.00/h running + $2.50/h asked" in r for r in refused.values())


def test_admit_refuses_everything_once_the_budget_is_spent(
    sqlite_db: str, root: Path
) -> None:
    loaded = config.load(root)
    with engine.session_scope(sqlite_db) as session:
        row = session.get(models.Budget, ACCOUNT)
        assert row is not None
        row.status = budget.EXCEEDED

    admitted, refused = admit(
        sqlite_db, loaded, NODES[:1], at("2026-03-01 11:00")
    )

    assert admitted == []
    assert refused[NODES[0]].startswith("budget $100.00 of demo-local spent")


def test_ten_dollars_at_six_an_hour(
    sqlite_db: str, root: Path, smtp: Inbox
) -> None:
    """Slurm wants every node all the time; the budget says no."""
    loaded = config.load(root)
    set_budget(sqlite_db, amount="10", rate="6", start="2026-03-01")
    slurm = Slurm()
    now, step, life = (
        at("2026-03-01 00:00"),
        dt.timedelta(minutes=10),
        dt.timedelta(minutes=30),
    )
    rates, statuses, refusals = [], [], []
    while now < at("2026-03-01 06:00"):
        _end_nodes(sqlite_db, now, life)
        admitted, refused = admit(sqlite_db, loaded, _idle(sqlite_db), now)
        _start_nodes(sqlite_db, loaded, admitted, now)
        refusals += refused.values()
        with engine.session_scope(sqlite_db) as session:
            rates.append(estimate.running_rate(session, loaded, ACCOUNT))
        enforce.check(loaded, sqlite_db, now, holder=slurm)
        statuses.append(_status(sqlite_db))
        now += step

    assert max(rates) <= Decimal(6)
    assert max(rates) == Decimal(6)
    assert any("rate cap $6.00/h of demo-local" in r for r in refusals)
    assert "warning" in statuses and statuses[-1] == "exceeded"
    first = statuses.index("exceeded")
    assert all(s == "exceeded" for s in statuses[first:])
    assert rates[-1] == 0, "no node started once the budget was spent"
    assert slurm.calls == [("hold", ACCOUNT)]
    subjects = smtp.subjects()
    assert subjects == [
        "[skyway] demo-local: hourly rate cap $6.00/h reached",
        "[skyway] demo-local: 80 % of the budget spent",
        "[skyway] demo-local: budget exceeded, no new jobs accepted",
    ]
    assert smtp.messages[2]["To"] == "rcc-admins@example.edu, pi@example.edu"
    assert "running jobs continue" in body(smtp.messages[2])

    set_budget(sqlite_db, amount="20")
    with engine.session_scope(sqlite_db) as session:
        outcome = enforce.check_account(session, loaded, ACCOUNT, now, slurm)
    admitted, _ = admit(sqlite_db, loaded, NODES[:1], now)

    assert outcome is not None and (outcome.old, outcome.new) == (
        "exceeded",
        "normal",
    )
    assert slurm.calls[-1] == ("release", ACCOUNT)
    assert admitted == NODES[:1]
    assert smtp.subjects()[-1] == (
        "[skyway] demo-local: budget back to normal, jobs accepted"
    )
    assert len(smtp.messages) == 4


def test_cancel_policy_cancels_running_jobs(
    sqlite_db: str, root: Path, smtp: Inbox
) -> None:
    account = root / f"etc/accounts/{ACCOUNT}.yaml"
    data = yaml.safe_load(account.read_text())
    data["policy"] = {"on_exceeded": "cancel"}
    account.write_text(yaml.safe_dump(data))
    loaded = config.load(root)
    set_budget(sqlite_db, amount="1", start="2026-03-01")
    with engine.session_scope(sqlite_db) as session:
        live(session, NODES[0], "2026-03-01 00:00")
    slurm = Slurm()

    enforce.check(loaded, sqlite_db, at("2026-03-01 02:00"), holder=slurm)
    enforce.check(loaded, sqlite_db, at("2026-03-01 03:00"), holder=slurm)

    assert slurm.calls == [("hold", ACCOUNT), ("cancel", ACCOUNT)]
    assert len(smtp.messages) == 1
    assert "cancelled (policy: cancel)" in body(smtp.messages[0])


def test_a_failed_hold_is_retried_and_mailed_once(
    sqlite_db: str, root: Path, smtp: Inbox
) -> None:
    from skyway.errors import CommandError

    class Broken(Slurm):
        def hold(self, account: str) -> None:
            super().hold(account)
            raise CommandError(["sacctmgr"], 1, "slurmdbd down")

    loaded = config.load(root)
    set_budget(sqlite_db, amount="1", start="2026-03-01")
    with engine.session_scope(sqlite_db) as session:
        live(session, NODES[0], "2026-03-01 00:00")

    with pytest.raises(enforce.EnforcementError) as caught:
        enforce.check(
            loaded, sqlite_db, at("2026-03-01 02:00"), holder=Broken()
        )
    first = caught.value.outcomes
    slurm = Slurm()
    enforce.check(loaded, sqlite_db, at("2026-03-01 03:00"), holder=slurm)

    assert first[0].errors and "slurmdbd down" in first[0].errors[0]
    assert slurm.calls == [("hold", ACCOUNT)]
    assert _status(sqlite_db) == "exceeded"
    assert len(smtp.messages) == 1


def _status(url: str) -> str:
    with engine.session_scope(url) as session:
        row = session.get(models.Budget, ACCOUNT)
        assert row is not None
        return row.status


def _idle(url: str) -> list[str]:
    with engine.session_scope(url) as session:
        up = set(
            session.scalars(
                select(models.NodeMap.name).where(
                    models.NodeMap.state.in_(estimate.LIVE_STATES)
                )
            )
        )
    return [n for n in [*NODES[4:], *NODES[:4]] if n not in up]


def _start_nodes(
    url: str, loaded: Config, nodes: list[str], now: dt.datetime
) -> None:
    """What the account worker does with admitted nodes."""
    with engine.session_scope(url) as session:
        for node in nodes:
            row = live(session, node, now.isoformat(" "))
            row.price = estimate.node_price(loaded, ACCOUNT, row.node_type)
            session.add(
                models.NodeJournal(
                    node=node,
                    account=ACCOUNT,
                    node_type=row.node_type,
                    price=row.price,
                    started_at=now,
                    jobs=str(len(node)),
                    users="alice",
                )
            )


def _end_nodes(url: str, now: dt.datetime, life: dt.timedelta) -> None:
    """What suspend does with nodes that have idled long enough."""
    with engine.session_scope(url) as session:
        for row in session.scalars(
            select(models.NodeMap).where(models.NodeMap.state == "up")
        ):
            assert row.started_at is not None
            if now - row.started_at < life:
                continue
            row.state = "idle"
            journal = session.scalars(
                select(models.NodeJournal).where(
                    models.NodeJournal.node == row.name,
                    models.NodeJournal.ended_at.is_(None),
                )
            ).one()
            journal.ended_at = now


def test_queued_resumes_count_toward_the_rate(
    sqlite_db: str, root: Path
) -> None:
    loaded = config.load(root)
    set_budget(sqlite_db, rate="3")
    with engine.session_scope(sqlite_db) as session:
        session.add(
            models.NodeRequest(account=ACCOUNT, node=NODES[4], action="resume")
        )

    admitted, refused = admit(sqlite_db, loaded, NODES[:2], at("2026-03-01"))

    assert admitted == []
    assert refused[NODES[0]].endswith("$2.50/h running + $1.00/h asked")


def test_concurrent_hooks_never_pass_the_cap_together(
    billing_db: str, root: Path
) -> None:
    """Four hooks at once, one c1 node each, room for three."""
    import threading

    loaded = config.load(root)
    set_budget(billing_db, rate="3")
    barrier = threading.Barrier(4)
    results: dict[str, bool] = {}

    def hook(node: str) -> None:
        barrier.wait()
        with engine.session_scope(billing_db) as session:
            admitted, _ = enforce.admit(session, loaded, ACCOUNT, [node])
            for name in admitted:
                session.add(
                    models.NodeRequest(
                        account=ACCOUNT, node=name, action="resume"
                    )
                )
        results[node] = bool(admitted)

    threads = [threading.Thread(target=hook, args=(n,)) for n in NODES[:4]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert len(results) == 4
    assert sorted(results.values()) == [False, True, True, True]
