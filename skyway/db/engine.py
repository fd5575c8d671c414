"""Engines, sessions and schema migrations for every supported database.

SQLite under the state folder is the embedded default; MySQL/MariaDB
(PyMySQL) and PostgreSQL (psycopg) are chosen by URL.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from skyway.errors import DatabaseError

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).with_name("migrations")
_ENGINES: dict[str, Engine] = {}
CONNECT_TIMEOUT = 10


def redact(url: str) -> str:
    """The URL with its password hidden, for messages and logs."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is shown only by its scheme
        return url.split(":", 1)[0] + "://…"


def get_engine(url: str) -> Engine:
    """One engine per URL per process, created on first use."""
    engine = _ENGINES.get(url)
    if engine is None:
        engine = _ENGINES[url] = _create(url)
    return engine


def _create(url: str) -> Engine:
    options: dict[str, Any] = {"pool_pre_ping": True}
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        options = {"connect_args": {"timeout": 30}}
    else:
        # A server that does not answer must fail a connect in seconds,
        # not after TCP's own timeouts, so services retry and carry on.
        options["pool_recycle"] = 3600
        options["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT}
    try:
        engine = create_engine(url, **options)
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise DatabaseError(f"bad database URL {redact(url)}: {exc}") from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        event.listen(engine, "handle_error", _failed_ping_drops_connection)
    return engine


def _failed_ping_drops_connection(context: ExceptionContext) -> None:
    """A pooled connection that fails its ping is replaced, whatever the
    driver calls the failure: psycopg may report a connection reset
    under the ping as a ProgrammingError about its transaction state,
    which would otherwise reach the caller instead of a new connection.
    """
    if context.is_pre_ping:
        context.is_disconnect = True


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A session committed on success and rolled back on any error."""
    factory = sessionmaker(get_engine(url), expire_on_commit=False)
    session = factory()
    try:
        yield session
        session.commit()
    except SQLAlchemyError as exc:
        session.rollback()
        raise DatabaseError(
            f"database error on {redact(url)}: {_first_line(exc)}"
        ) from exc
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _alembic_config(engine: Engine) -> Any:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(url: str) -> tuple[str | None, str]:
    """Bring the schema to the newest version; return (before, after)."""
    from alembic import command

    engine = get_engine(url)
    before = current_version(url)
    try:
        command.upgrade(_alembic_config(engine), "head")
    except SQLAlchemyError as exc:
        raise DatabaseError(
            f"cannot migrate {redact(url)}: {_first_line(exc)}"
        ) from exc
    return before, head_version()


def head_version() -> str:
    """The newest migration this release ships."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(MIGRATIONS))
    head = script.get_current_head()
    assert head is not None
    return head


def current_version(url: str) -> str | None:
    """The migration the database is at, or None for an empty one."""
    try:
        with get_engine(url).connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            row = conn.execute(text("SELECT version_num FROM alembic_version"))
            return row.scalar()
    except SQLAlchemyError as exc:
        raise DatabaseError(
            f"cannot reach database {redact(url)}: {_first_line(exc)}"
        ) from exc


def require_current(url: str) -> None:
    """Fail with a hint unless the schema is at the newest version."""
    have = current_version(url)
    if have != head_version():
        raise DatabaseError(
            f"database {redact(url)} is at schema {have or 'none'}, "
            f"expected {head_version()}; run `skyway misc.db_test`"
        )


def server_version(url: str) -> str:
    """The database server's own version string."""
    engine = get_engine(url)
    try:
        with engine.connect() as conn:
            info = conn.dialect.server_version_info or ()
    except SQLAlchemyError as exc:
        raise DatabaseError(
            f"cannot reach database {redact(url)}: {_first_line(exc)}"
        ) from exc
    name = engine.dialect.name
    return f"{name} {'.'.join(str(p) for p in info)}".strip()
