"""Planning the association sync: only Skyway's accounts are touched."""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

import pytest

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


SACCT_OUT = """\
7|alice|a-c1-[001-002]|2026-03-01T10:20:00
8|bob|a-c1-002|Unknown
6|carol|a-c1-001|2026-03-01T09:59:00
9|dave|None assigned|Unknown
"""


def test_jobs_on_reads_one_sacct_call_per_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = tmp_path / "args"
    sacct = tmp_path / "sacct"
    script = f'#!/bin/sh\nprintf "%s\\n" "$@" > {args}\n'
    sacct.write_text(script + f'cat <<"EOF"\n{SACCT_OUT}EOF\n')
    sacct.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    since = {
        "a-c1-001": dt.datetime(2026, 3, 1, 10, 0),
        "a-c1-002": dt.datetime(2026, 3, 1, 9, 30),
    }

    try:
        found = accounting.jobs_on(since)
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()

    assert found == {
        "a-c1-001": [("7", "alice")],  # carol's job 6 ended before
        "a-c1-002": [("7", "alice"), ("8", "bob")],
    }
    argv = args.read_text().split()
    assert "--nodelist=a-c1-001,a-c1-002" in argv
    assert "--starttime=2026-03-01T09:30:00" in argv
