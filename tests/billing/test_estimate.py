"""Estimates: journal lifetimes and live nodes times price, rolled up."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from skyway import config
from skyway.billing import estimate, report
from skyway.db import engine, models
from tests.billing.conftest import at, journal, live
from tests.conftest import Cli

NOW = at("2026-03-02 12:00")


def fill(url: str) -> None:
    """Two closed lifetimes, an open one and a node only in node_map."""
    with engine.session_scope(url) as session:
        journal(
            session,
            "demo-local-c1-001",
            "2026-03-01 10:00",
            "2026-03-01 12:00",
            "1",
            jobs="11",
            users="alice",
        )
        journal(
            session,
            "demo-local-c2-001",
            "2026-03-01 23:00",
            "2026-03-02 01:00",
            "2.5",
            jobs="12,13",
            users="alice,bob",
        )
        journal(
            session,
            "demo-local-c1-002",
            "2026-03-02 10:00",
            None,
            "1",
            jobs="14",
            users="root",
        )
        live(session, "demo-local-c1-002", "2026-03-02 10:00", jobs="14")
        live(session, "demo-local-c1-003", "2026-03-02 11:00", state="resuming")


def breakdown(found: report.Summary) -> dict[str, object]:
    def cut(items: list[report.Usage]) -> dict[str, tuple[str, str]]:
        return {u.name: (f"{u.hours:.2f}", f"{u.cost:.2f}") for u in items}

    return {
        "types": cut(found.by_type),
        "users": cut(found.by_user),
        "jobs": cut(found.jobs),
        "count": found.job_count,
        "total": f"{found.estimated:.2f}",
    }


EXPECTED = {
    "types": {"c1": ("5.00", "5.00"), "c2": ("2.00", "5.00")},
    "users": {
        "alice": ("3.00", "4.50"),
        "bob": ("1.00", "2.50"),
        "root": ("2.00", "2.00"),
        "(unknown)": ("1.00", "1.00"),
    },
    "jobs": {
        "11": ("2.00", "2.00"),
        "12": ("1.00", "2.50"),
        "13": ("1.00", "2.50"),
        "14": ("2.00", "2.00"),
    },
    "count": 4,
    "total": "10.00",
}


def summarize(
    url: str,
    root: Path,
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> report.Summary:
    with engine.session_scope(url) as session:
        return report.summary(
            session, config.load(root), "demo-local", since, until, NOW
        )


def test_split_days_cuts_at_midnight() -> None:
    pieces = list(
        estimate.split_days(at("2026-03-01 23:30"), at("2026-03-03 00:15"))
    )

    assert pieces == [
        (dt.date(2026, 3, 1), Decimal(1800)),
        (dt.date(2026, 3, 2), Decimal(86400)),
        (dt.date(2026, 3, 3), Decimal(900)),
    ]


def test_names_splits_and_dedups() -> None:
    assert estimate.names(" 12, 13;12 14") == ["12", "13", "14"]
    assert estimate.names("") == []


def test_summary_is_the_same_before_and_after_the_rollup(
    billing_db: str, root: Path
) -> None:
    fill(billing_db)
    before = breakdown(summarize(billing_db, root))

    with engine.session_scope(billing_db) as session:
        folded = estimate.rollup(session, NOW)
    with engine.session_scope(billing_db) as session:
        again = estimate.rollup(session, NOW)
        days = session.scalars(select(models.UsageDay)).all()
    after = breakdown(summarize(billing_db, root))

    assert before == EXPECTED
    assert after == EXPECTED
    assert (folded, again) == (2, 0)
    assert {(d.day.isoformat(), d.node_type, d.username) for d in days} == {
        ("2026-03-01", "c1", "alice"),
        ("2026-03-01", "c2", "alice"),
        ("2026-03-01", "c2", "bob"),
        ("2026-03-02", "c2", "alice"),
        ("2026-03-02", "c2", "bob"),
    }


def test_rollup_adds_to_existing_rows(sqlite_db: str, root: Path) -> None:
    fill(sqlite_db)
    with engine.session_scope(sqlite_db) as session:
        estimate.rollup(session, NOW)
        journal(
            session,
            "demo-local-c1-004",
            "2026-03-01 13:00",
            "2026-03-01 14:00",
            "1",
            jobs="11",
            users="alice",
        )
    with engine.session_scope(sqlite_db) as session:
        estimate.rollup(session, NOW)
        job = session.scalars(
            select(models.JobUsage).where(models.JobUsage.job == "11")
        ).one()

    found = breakdown(summarize(sqlite_db, root))
    assert (job.nodes, job.cost) == (2, Decimal(3))
    assert found["users"]["alice"] == ("4.00", "5.50")  # type: ignore[index]
    assert found["total"] == "11.00"


def test_window_is_whole_days(sqlite_db: str, root: Path) -> None:
    fill(sqlite_db)
    with engine.session_scope(sqlite_db) as session:
        estimate.rollup(session, NOW)

    day = dt.date(2026, 3, 2)
    found = breakdown(summarize(sqlite_db, root, day, day))

    assert found["types"] == {"c1": ("3.00", "3.00"), "c2": ("1.00", "2.50")}
    assert found["total"] == "5.50"
    assert sorted(found["jobs"]) == ["12", "13", "14"]  # type: ignore[call-overload]


def test_running_nodes_and_rate(sqlite_db: str, root: Path) -> None:
    fill(sqlite_db)

    found = summarize(sqlite_db, root)

    assert [(n.node, n.state, n.rate) for n in found.running] == [
        ("demo-local-c1-002", "up", Decimal(1)),
        ("demo-local-c1-003", "resuming", Decimal(1)),
    ]
    assert found.rate_now == Decimal(2)
    assert found.rate_cap == Decimal(10)


def test_summary_formats(
    cli: Cli, sqlite_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(sqlite_db)
    with engine.session_scope(sqlite_db) as session:
        estimate.rollup(session, NOW)
    args = ("billing", "demo-local", "--summary", "--until", "2026-03-01")

    table = cli(*args)
    as_csv = cli(*args, "--format", "csv")
    as_json = cli(*args, "--format", "json")

    assert table.code == 0, table.err
    assert "node type" in table.out and "c2" in table.out
    assert "estimated:        $4.50" in table.out
    lines = as_csv.out.splitlines()
    assert lines[0] == "section,name,hours,cost,detail"
    assert "type,c1,2.000,2.00," in lines
    assert "user,alice,2.500,3.25," in lines
    assert "total,estimated,,4.50," in lines
    data = json.loads(as_json.out)
    assert data["estimated"] == "4.50"
    assert [u["name"] for u in data["by_user"]] == ["alice", "bob"]
    assert data["job_count"] == 3


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--since", "2026-02-30"), "invalid --since '2026-02-30'"),
        (("--until", "tomorrow"), "invalid --until 'tomorrow'"),
        (
            ("--since", "2026-03-02", "--until", "2026-03-01"),
            "--since 2026-03-02 is after --until 2026-03-01",
        ),
    ],
)
def test_bad_summary_window(
    cli: Cli, sqlite_db: str, args: tuple[str, ...], expected: str
) -> None:
    result = cli("billing", "demo-local", "--summary", *args)

    assert result.code == 2
    assert expected in result.err


def test_overview_lists_every_account(cli: Cli, sqlite_db: str) -> None:
    fill(sqlite_db)

    result = cli("billing", "--format", "json")

    assert result.code == 0, result.err
    rows = {row["account"]: row for row in json.loads(result.out)}
    assert sorted(rows) == ["demo-local", "rcc-aws", "rcc-azure", "rcc-gcp"]
    local = rows["demo-local"]
    assert local["amount"] == "100.00"
    assert local["max $/h"] == "10.00"
    assert local["now $/h"] == "2.00"
    assert local["spent (vendor)"] is None
    spent = float(local["spent (est.)"])
    assert spent > 100  # two nodes up since March, counted up to now
    assert local["status"] == "exceeded"
    assert local["balance"].startswith("-")
    assert rows["rcc-aws"]["status"] == "normal"
