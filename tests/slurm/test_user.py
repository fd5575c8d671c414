"""sinfo-node-types and sinteractive against a published catalog."""

from __future__ import annotations

from pathlib import Path

import pytest

from skyway import catalog, config
from skyway.cli import user
from skyway.cli.app import run
from skyway.db import engine
from skyway.db.sync import sync_accounts
from skyway.errors import BudgetError, InputError


@pytest.fixture
def published(
    root: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> Path:
    cfg = config.load(root)
    engine.migrate(sqlite_url)
    with engine.session_scope(sqlite_url) as session:
        sync_accounts(session, cfg)
        data = catalog.build(cfg, session)
    path = root / "state" / "catalog.json"
    catalog.publish(data, path)
    monkeypatch.setenv("SKYWAY_CATALOG", str(path))
    monkeypatch.setenv("LOGNAME", "alice")
    return path


def _run(
    command: object, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    assert hasattr(command, "main")
    code = run(command, "test", argv)  # type: ignore[arg-type]
    out, err = capsys.readouterr()
    return code, out, err


def test_node_types_of_my_accounts(
    published: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(user.sinfo_node_types, [], capsys)

    assert code == 0
    rows = [line.split() for line in out.splitlines()]
    accounts = {row[0] for row in rows[2:] if row and ":" not in row[0]}
    assert accounts == {"demo-local", "rcc-aws", "rcc-gcp"}
    c2 = rows[3][:7]
    assert c2 == ["demo-local", "c2", "local-medium", "2", "2", "GB", "-"]
    assert "demo-local: budget $100.00, balance $100.00" in out
    assert "rate cap $10.00/h, status normal" in out


def test_node_types_of_one_account(
    published: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(user.sinfo_node_types, ["-A", "rcc-azure"], capsys)

    assert code == 0
    assert "Standard_F8s_v2" in out
    assert "local-small" not in out


def test_unknown_account_lists_mine(
    published: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(user.sinfo_node_types, ["-A", "nope"], capsys)

    assert code == 2
    assert "unknown account 'nope'" in err
    assert "demo-local, rcc-aws, rcc-gcp" in err


def test_sinteractive_refuses_account_i_am_not_in(
    published: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["-A", "rcc-azure", "-C", "c1", "-t", "10"]
    code, _, err = _run(user.sinteractive, argv, capsys)

    assert code == 2
    assert "alice is not a member of account 'rcc-azure'" in err
    assert "your accounts: demo-local, rcc-aws, rcc-gcp" in err


def test_sinteractive_refuses_unknown_type_listing_valid(
    published: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["-A", "rcc-aws", "--constraint=c3", "-t", "10"]
    code, _, err = _run(user.sinteractive, argv, capsys)

    assert code == 2
    assert "unknown node type 'c3'" in err
    assert "expected one of: c1, c8, g1" in err


def test_sinteractive_refuses_foreign_partition(
    published: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["-A", "rcc-aws", "-p", "rcc-gcp", "-C", "c1"]
    code, _, err = _run(user.sinteractive, argv, capsys)

    assert code == 2
    assert "expected rcc-aws" in err


@pytest.mark.parametrize(
    ("text", "hours"),
    [
        ("90", 1.5),
        ("30:00", 0.5),
        ("02:00:00", 2.0),
        ("1-00", 24.0),
        ("1-12:30", 36.5),
        ("0-00:00:36", 0.01),
    ],
)
def test_slurm_time_limits(text: str, hours: float) -> None:
    assert user.parse_time(text) == pytest.approx(hours)


@pytest.mark.parametrize("text", ["", "abc", "0", "1:2:3:4", "-5", "x-1"])
def test_bad_time_limits(text: str) -> None:
    with pytest.raises(InputError, match="bad time limit"):
        user.parse_time(text)


NODE = {"instance": "t2.micro", "price": 0.5, "cores": 1, "memory_gb": 1}


def test_quote_with_balance() -> None:
    budget = {"amount": 100, "rate": 6, "status": "normal", "balance": 10}

    line = user.quote("rcc-aws", "c1", NODE, 4, budget)

    assert "$0.5000/h × 4.00 h = $2.00" in line
    assert "balance left after: $8.00" in line


def test_quote_over_balance_refused() -> None:
    budget = {"amount": 100, "rate": 6, "status": "normal", "balance": 1}

    with pytest.raises(BudgetError, match="balance of \\$1.00"):
        user.quote("rcc-aws", "c1", NODE, 4, budget)


def test_quote_over_rate_cap_or_on_hold_refused() -> None:
    with pytest.raises(BudgetError, match="rate cap of \\$0.10/h"):
        user.quote("a", "c1", NODE, 1, {"amount": 1, "rate": 0.1})
    with pytest.raises(BudgetError, match="on hold"):
        user.quote(
            "a", "c1", NODE, 1, {"amount": 1, "rate": 9, "status": "hold"}
        )


def test_srun_argv_keeps_extra_options() -> None:
    argv = user.srun_argv(
        "rcc-aws", "rcc-aws", "c1", "10", ("--mem=1G",), "/bin/bash"
    )

    assert argv == [
        "srun",
        "--account=rcc-aws",
        "--partition=rcc-aws",
        "--constraint=c1",
        "--time=10",
        "--mem=1G",
        "--pty",
        "/bin/bash",
        "-i",
    ]
