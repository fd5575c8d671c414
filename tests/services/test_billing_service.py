"""The `billing` service: costs, budgets and mail, and the catalog.

On a root with the local vendor only (no cost API to call), an account
past 80 % of its budget must turn to `warning`, its admins must get one
mail through a real SMTP server, and the catalog must show it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from skyway import config as configuration
from skyway.db import engine, models
from skyway.db.models import utcnow
from tests.conftest import Cli
from tests.services.conftest import wait_for
from tests.services.test_supervise import status_of
from tests.smtp import Inbox, smtp_server
from tests.test_reconcile import load


@pytest.fixture
def inbox(service_root: Path) -> Iterator[Inbox]:
    """A real SMTP server on loopback, named in the root's skyway.yaml."""
    with smtp_server(service_root) as box:
        yield box


@pytest.fixture
def local_only(service_root: Path) -> Path:
    accounts = service_root / "etc" / "accounts"
    for path in accounts.glob("rcc-*.yaml"):
        path.unlink()
    (service_root / "etc" / "services" / "billing.yaml").write_text(
        "interval: 1\n"
    )
    return service_root


def spend(root: Path, hours: float) -> None:
    """A finished node lifetime of `hours` at $1/h on demo-local."""
    config = load(root)
    ended = utcnow() - dt.timedelta(minutes=5)
    with engine.session_scope(config.database_url) as session:
        session.add(
            models.NodeJournal(
                node="demo-local-c1-004",
                account="demo-local",
                node_type="c1",
                price=Decimal(1),
                started_at=ended - dt.timedelta(hours=hours),
                ended_at=ended,
                cost=Decimal(str(hours)),
                end_reason="suspended",
            )
        )


def test_billing_service_enforces_mails_and_publishes(
    local_only: Path, inbox: Inbox, cli: Cli
) -> None:
    spend(local_only, 85)
    catalog = configuration.load(local_only).catalog_path
    assert cli("service", "--regist", "billing").code == 0

    started = cli("service", "--start", "billing")
    wait_for(lambda: inbox.messages, "the warning mail")
    wait_for(
        lambda: (
            catalog.exists()
            and json.loads(catalog.read_text())["accounts"]["demo-local"][
                "budget"
            ]["status"]
            == "warning"
        ),
        "the catalog to show the warning",
    )
    row = status_of(cli, "billing")
    cli("service", "--stop", "billing")

    assert started.code == 0, started.err
    [mail] = inbox.messages
    assert "demo-local" in mail["Subject"]  # type: ignore[index]
    assert mail["To"] == "rcc-admins@example.edu"  # type: ignore[index]
    config = configuration.load(local_only)
    with engine.session_scope(config.database_url) as session:
        budget = session.get(models.Budget, "demo-local")
        assert budget is not None
        assert (budget.status, budget.mailed_status) == ("warning", "warning")
    assert row["last error"] == "-"
    assert row["state"] in ("running", "sleeping")
    assert len(inbox.messages) == 1  # mailed once, not on every round


def test_a_failing_step_does_not_stop_the_others(
    local_only: Path, cli: Cli
) -> None:
    path = local_only / "etc" / "skyway.yaml"
    settings = yaml.safe_load(path.read_text())
    settings["mail"]["smtp_port"] = 9  # nothing listens: mail fails
    path.write_text(yaml.safe_dump(settings))
    spend(local_only, 85)
    catalog = configuration.load(local_only).catalog_path
    assert cli("service", "--regist", "billing").code == 0

    assert cli("service", "--start", "billing").code == 0
    row = wait_for(
        lambda: (r := status_of(cli, "billing"))["last error"] != "-" and r,
        "the mail failure in --status",
    )
    wait_for(catalog.exists, "the catalog")
    first = catalog.stat().st_mtime_ns
    wait_for(lambda: catalog.stat().st_mtime_ns != first, "the catalog again")
    cli("service", "--stop", "billing")

    assert isinstance(row, dict)
    assert "enforce: demo-local:" in row["last error"]
