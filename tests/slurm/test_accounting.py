"""Planning the association sync: only Skyway's accounts are touched."""

from __future__ import annotations

from pathlib import Path

from skyway import config
from skyway.slurm import accounting


def test_plan_adds_missing_accounts_and_users(root: Path) -> None:
    cfg = config.load(root)

    plan = accounting.plan_associations(cfg, set(), set())

    assert plan.add_accounts == sorted(cfg.accounts)
    assert ("demo-local", "alice") in plan.add_users
    assert ("rcc-aws", "carol") in plan.add_users
    assert plan.remove_users == []


def test_plan_removes_unlisted_users_of_managed_accounts_only(
    root: Path,
) -> None:
    cfg = config.load(root)
    existing = set(cfg.accounts) | {"physics"}
    members = {
        ("demo-local", "root"),
        ("demo-local", "alice"),
        ("demo-local", "mallory"),
        ("physics", "mallory"),
        ("rcc-aws", "alice"),
        ("rcc-aws", "bob"),
        ("rcc-aws", "carol"),
        ("rcc-gcp", "alice"),
        ("rcc-gcp", "dave"),
        ("rcc-azure", "bob"),
        ("rcc-azure", "erin"),
    }

    plan = accounting.plan_associations(cfg, existing, members)

    assert plan.remove_users == [("demo-local", "mallory")]
    assert plan.add_accounts == []
    assert plan.add_users == []
    assert "physics" not in " ".join(plan.lines())


def test_plan_in_line_is_empty(root: Path) -> None:
    cfg = config.load(root)
    members = {
        (name, user)
        for name, account in cfg.accounts.items()
        for user in account.users
    }

    plan = accounting.plan_associations(cfg, set(cfg.accounts), members)

    assert plan.empty
    assert plan.lines() == []
