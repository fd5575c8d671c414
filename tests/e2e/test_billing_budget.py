"""A spent budget in the real Slurm: sbatch refused, mail sent, lifted.

Spending is simulated (a closed journal row dated before now); the
enforcement, sacctmgr, sbatch and the SMTP server are real.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import delete

from skyway import config as configuration
from skyway.db import engine, models
from skyway.slurm import accounting
from skyway.slurm.lab import Lab
from tests.e2e.conftest import ACCOUNT
from tests.smtp import Inbox, smtp_server

SPENDER = f"{ACCOUNT}-c2-009"


@pytest.fixture
def inbox(lab: Lab) -> Iterator[Inbox]:
    """An SMTP server the lab's skyway.yaml points at, for this test."""
    with smtp_server(lab.root) as received:
        yield received


@pytest.fixture
def spent(lab: Lab) -> Iterator[str]:
    """Ten dollars spent by demo-local yesterday; all undone after."""
    url = configuration.load(lab.root).database_url
    yesterday = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(1)
    with engine.session_scope(url) as session:
        session.add(
            models.NodeJournal(
                node=SPENDER,
                account=ACCOUNT,
                node_type="c2",
                price=Decimal("2.5"),
                started_at=yesterday,
                ended_at=yesterday + dt.timedelta(hours=4),
                jobs="",
                users="alice",
                end_reason="simulated",
            )
        )
    try:
        yield url
    finally:
        lab.skyway("billing", ACCOUNT, "--set", "amount=100", check=False)
        with engine.session_scope(url) as session:
            session.execute(
                delete(models.NodeJournal).where(
                    models.NodeJournal.node == SPENDER
                )
            )
        accounting.release_account(ACCOUNT)


def _sbatch(lab: Lab) -> Any:
    return lab.command(
        "sbatch",
        "--parsable",
        "-A",
        ACCOUNT,
        "-p",
        ACCOUNT,
        "--hold",
        f"--output={lab.folder}/job-%j.out",
        "--wrap",
        "true",
        check=False,
    )


def test_spent_budget_stops_jobs_until_it_is_raised(
    lab: Lab, inbox: Inbox, spent: str
) -> None:
    lowered = lab.skyway("billing", ACCOUNT, "--set", "amount=10")
    held = accounting.account_held(ACCOUNT)
    refused = _sbatch(lab)
    listed = lab.skyway("billing")

    raised = lab.skyway("billing", ACCOUNT, "--set", "amount=100")
    released = not accounting.account_held(ACCOUNT)
    accepted = _sbatch(lab)
    if accepted.returncode == 0:
        lab.command("scancel", accepted.stdout.strip().split(";")[0])

    assert "status normal -> exceeded" in lowered
    assert held
    assert refused.returncode != 0
    line = next(s for s in listed.splitlines() if s.startswith(ACCOUNT))
    assert line.split()[-1] == "exceeded"
    assert "status exceeded -> normal" in raised
    assert released
    assert accepted.returncode == 0, accepted.stderr
    assert inbox.subjects() == [
        f"[skyway] {ACCOUNT}: budget exceeded, no new jobs accepted",
        f"[skyway] {ACCOUNT}: budget back to normal, jobs accepted",
    ]
