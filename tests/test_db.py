"""The schema migrates on every supported database and matches the models."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select, text

from skyway import config
from skyway.db import engine, models
from skyway.db.sync import sync_accounts
from tests.conftest import _fresh_database


def test_migrate_creates_every_table(db_url: str) -> None:
    before, after = engine.migrate(db_url)

    assert before is None
    assert after == engine.head_version()
    assert engine.current_version(db_url) == after
    assert engine.migrate(db_url) == (after, after)


def test_migrations_match_the_models(db_url: str) -> None:
    engine.migrate(db_url)

    with engine.get_engine(db_url).connect() as conn:
        context = MigrationContext.configure(conn)
        diff = compare_metadata(context, models.Base.metadata)

    assert diff == []


def test_sync_is_idempotent(db_url: str, root: Path) -> None:
    loaded = config.load(root)
    engine.migrate(db_url)

    with engine.session_scope(db_url) as session:
        first = sync_accounts(session, loaded)
    with engine.session_scope(db_url) as session:
        second = sync_accounts(session, loaded)
        users = session.scalar(select(func.count()).select_from(models.User))
        accounts = session.scalars(select(models.Account.name)).all()

    assert len(first.accounts_added) == 4
    assert not second.changed
    assert users == sum(len(a.users) for a in loaded.accounts.values())
    assert sorted(accounts) == sorted(loaded.accounts)


def test_sync_removes_users_no_longer_listed(
    sqlite_url: str, root: Path
) -> None:
    engine.migrate(sqlite_url)
    with engine.session_scope(sqlite_url) as session:
        sync_accounts(session, config.load(root))
    path = root / "etc/accounts/demo-local.yaml"
    path.write_text(path.read_text().replace("[root, alice]", "[root]"))

    with engine.session_scope(sqlite_url) as session:
        report = sync_accounts(session, config.load(root))
        left = session.scalars(
            select(models.User.username).where(
                models.User.account == "demo-local"
            )
        ).all()

    assert report.users_removed == ["demo-local:alice"]
    assert left == ["root"]


@pytest.fixture(params=["mariadb", "postgres"])
def server_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh database on a server (SQLite has no connection to lose)."""
    yield from _fresh_database(request.param)


def test_a_connection_that_fails_its_ping_is_replaced(
    server_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool = engine.get_engine(server_url)
    with pool.connect() as conn:
        first = conn.connection.dbapi_connection
    dialect = pool.dialect
    real_ping = dialect.do_ping
    pings: list[object] = []

    def ping(dbapi_connection: object) -> bool:
        pings.append(dbapi_connection)
        if len(pings) == 1:  # as psycopg reports a reset under the ping
            raise dialect.loaded_dbapi.ProgrammingError(
                "can't change 'autocommit' now: connection in transaction"
                " status ACTIVE"
            )
        return bool(real_ping(dbapi_connection))

    monkeypatch.setattr(dialect, "do_ping", ping)

    with pool.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1
        second = conn.connection.dbapi_connection

    assert pings and pings[0] is first
    assert second is not first
