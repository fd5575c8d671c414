"""`skyway billing ACCOUNT --set`: checked values, an audit trail."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from skyway.billing import budget
from skyway.db import engine, models
from skyway.errors import InputError
from tests.conftest import Cli


def snapshot(url: str) -> list[tuple[object, ...]]:
    """Every budget and budget change, to prove nothing moved."""
    with engine.session_scope(url) as session:
        budgets = [
            (b.account, b.start, b.amount, b.rate, b.status, b.updated_by)
            for b in session.scalars(select(models.Budget))
        ]
        changes = [
            (c.account, c.key, c.new_value)
            for c in session.scalars(select(models.BudgetChange))
        ]
    return sorted(budgets) + sorted(changes)


def test_parse_accepts_the_three_keys() -> None:
    found = budget.parse(["amount=10", "rate=6.0", "start=2026-01-01"])

    assert found == {
        "amount": Decimal("10"),
        "rate": Decimal("6.0"),
        "start": dt.date(2026, 1, 1),
    }


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ("amount=-1", "invalid amount '-1': expected a number from 0"),
        ("rate=abc", "invalid rate 'abc': expected a number of dollars"),
        ("rate=nan", "invalid rate 'nan': expected a number of dollars"),
        ("amount=1e12", "expected a number from 0 to 99,999,999.99"),
        ("colour=red", "unknown budget key 'colour' in --set 'colour=red'"),
        ("start=2026-13-40", "invalid start '2026-13-40': expected a real"),
        ("start=2026-2-1", "invalid start '2026-2-1': expected a real date"),
        ("amount", "invalid --set 'amount': expected KEY=VALUE"),
    ],
)
def test_parse_refuses_bad_input(item: str, expected: str) -> None:
    with pytest.raises(InputError) as caught:
        budget.parse(["amount=5", item])

    assert expected in str(caught.value)


def test_unknown_key_lists_the_valid_ones() -> None:
    with pytest.raises(
        InputError, match="expected one of: amount, rate, start"
    ):
        budget.parse(["colour=red"])


def test_set_records_who_and_when(
    cli: Cli, billing_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUDO_USER", "admin1")

    result = cli(
        "billing",
        "rcc-aws",
        "--set",
        "amount=10",
        "--set",
        "rate=6.0",
        "--set",
        "start=2026-02-01",
    )

    assert result.code == 0, result.err
    assert "rcc-aws: amount 1000 -> 10 (by admin1)" in result.out
    with engine.session_scope(billing_db) as session:
        row = session.get(models.Budget, "rcc-aws")
        assert row is not None
        assert (row.amount, row.rate) == (Decimal(10), Decimal(6))
        assert row.start == dt.date(2026, 2, 1)
        assert row.updated_by == "admin1"
        changes = session.scalars(
            select(models.BudgetChange).order_by(models.BudgetChange.id)
        ).all()
    assert [(c.key, c.old_value, c.new_value) for c in changes] == [
        ("amount", "1000", "10"),
        ("start", "2026-01-01", "2026-02-01"),
    ]
    assert {c.changed_by for c in changes} == {"admin1"}
    assert all(c.changed_at is not None for c in changes)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("rcc-aws", "--set", "amount=-1"), "invalid amount '-1'"),
        (("rcc-aws", "--set", "rate=abc"), "invalid rate 'abc'"),
        (("rcc-aws", "--set", "colour=red"), "unknown budget key 'colour'"),
        (("rcc-aws", "--set", "start=2026-13-40"), "invalid start"),
        (("rcc-nope", "--set", "amount=10"), "unknown account 'rcc-nope'"),
        (("rcc-aws", "--set", "amount=5", "--set", "rate=x"), "invalid rate"),
        (("--set", "amount=10"), "--set needs an ACCOUNT"),
    ],
)
def test_bad_set_is_one_line_exit_2_and_changes_nothing(
    cli: Cli, sqlite_db: str, args: tuple[str, ...], expected: str
) -> None:
    before = snapshot(sqlite_db)

    result = cli("billing", *args)

    assert result.code == 2
    assert result.out == ""
    assert len(result.err.strip().splitlines()) == 1
    assert expected in result.err
    assert snapshot(sqlite_db) == before


def test_setting_the_same_value_records_nothing(
    cli: Cli, sqlite_db: str
) -> None:
    result = cli("billing", "rcc-aws", "--set", "rate=6.000")

    assert result.code == 0, result.err
    assert "rcc-aws: budget unchanged" in result.out
    with engine.session_scope(sqlite_db) as session:
        count = session.scalars(select(models.BudgetChange)).all()
    assert count == []


@pytest.mark.parametrize(
    ("spent", "expected"),
    [("0", "normal"), ("7.99", "normal"), ("8", "warning"), ("10", "exceeded")],
)
def test_status_thresholds(spent: str, expected: str) -> None:
    assert budget.status(Decimal(spent), Decimal(10)) == expected


def test_set_that_spends_the_budget_tries_to_hold_and_says_if_it_cannot(
    cli: Cli, sqlite_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "no-slurm"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))

    result = cli("billing", "demo-local", "--set", "amount=0")

    assert result.code == 1
    assert "demo-local: amount 100 -> 0" in result.out
    assert "warning: sacctmgr exited with 127" in result.err
    assert "the billing service retries" in result.err
    with engine.session_scope(sqlite_db) as session:
        row = session.get(models.Budget, "demo-local")
        assert row is not None
        assert row.amount == 0
        assert row.status == "normal"  # not exceeded until Slurm holds it
