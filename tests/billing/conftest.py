"""Fixtures of the billing tests: a root on a database, journal helpers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from skyway import config
from skyway.db import engine, models
from skyway.db.sync import sync_accounts


@pytest.fixture
def billing_db(
    root: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The example root on a fresh database of each kind, synced."""
    monkeypatch.setenv("SKYWAY_DB_URL", db_url)
    engine.migrate(db_url)
    with engine.session_scope(db_url) as session:
        sync_accounts(session, config.load(root))
    yield db_url


@pytest.fixture
def sqlite_db(
    root: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> str:
    """The example root on a fresh SQLite database, synced."""
    monkeypatch.setenv("SKYWAY_DB_URL", sqlite_url)
    engine.migrate(sqlite_url)
    with engine.session_scope(sqlite_url) as session:
        sync_accounts(session, config.load(root))
    return sqlite_url


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def journal(
    session: Session,
    node: str,
    start: str,
    end: str | None,
    price: str,
    jobs: str = "",
    users: str = "",
    account: str = "demo-local",
) -> models.NodeJournal:
    """A node lifetime as the account worker writes it."""
    node_type = node.removeprefix(account + "-").rsplit("-", 1)[0]
    row = models.NodeJournal(
        node=node,
        account=account,
        node_type=node_type,
        price=Decimal(price),
        started_at=at(start),
        ended_at=at(end) if end else None,
        jobs=jobs,
        users=users,
    )
    session.add(row)
    session.flush()
    return row


def live(
    session: Session,
    node: str,
    start: str,
    price: str = "0",
    state: str = "up",
    account: str = "demo-local",
    jobs: str = "",
    users: str = "",
) -> models.NodeMap:
    """A node up (or resuming) in the node map."""
    node_type = node.removeprefix(account + "-").rsplit("-", 1)[0]
    row = session.get(models.NodeMap, node) or models.NodeMap(name=node)
    row.account = account
    row.node_type = node_type
    row.state = state
    row.price = Decimal(price)
    row.started_at = at(start)
    row.jobs = jobs
    row.users = users
    session.add(row)
    session.flush()
    return row
