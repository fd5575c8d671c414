"""Fixtures shared by every test: a Skyway root, the CLI, real databases."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest_plugins = ["tests.fakes.moto"]

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples" / "etc"
IN_CI = os.environ.get("CI", "") == "true"


@pytest.fixture(autouse=True)
def _isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No test may read or write the real home or a site root."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    for var in ("SKYWAY_ROOT", "SKYWAY_DB_URL", "SKYWAY_DEBUG"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A Skyway root holding a copy of the example configuration."""
    shutil.copytree(EXAMPLES, tmp_path / "etc")
    return tmp_path


@dataclass
class Result:
    code: int
    out: str
    err: str


class Cli:
    """Runs `skyway` in-process against one root, capturing its output."""

    def __init__(self, root: Path, capsys: pytest.CaptureFixture[str]):
        self.root = root
        self.capsys = capsys

    def __call__(self, *args: str) -> Result:
        from skyway.cli.app import run
        from skyway.cli.main import skyway

        self.capsys.readouterr()
        code = run(skyway, "skyway", ["--root", str(self.root), *args])
        captured = self.capsys.readouterr()
        return Result(code, captured.out, captured.err)


@pytest.fixture
def cli(root: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(root, capsys)


SERVERS = {
    "mariadb": ("SKYWAY_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306"),
    "postgres": (
        "SKYWAY_TEST_PG_URL",
        "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
    ),
}


def _fresh_database(kind: str) -> Iterator[str]:
    """Create a throw-away database on a real server; drop it afterwards."""
    import sqlalchemy as sa

    var, default = SERVERS[kind]
    base = os.environ.get(var) or (default if IN_CI else None)
    if base is None:
        pytest.skip(f"set {var} to test on {kind}")
    name = f"skyway_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {name}"))
    except sa.exc.OperationalError as exc:
        if IN_CI:
            pytest.fail(f"{kind} server unreachable in CI: {exc}")
        pytest.skip(f"{kind} server unreachable: {exc}")
    url = sa.engine.make_url(base).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        from skyway.db import engine as db_engine

        cached = db_engine._ENGINES.pop(
            url.render_as_string(hide_password=False), None
        )
        if cached is not None:
            cached.dispose()
        with admin.connect() as conn:
            if kind == "postgres":
                conn.execute(
                    sa.text(
                        "SELECT pg_terminate_backend(pid) FROM "
                        "pg_stat_activity WHERE datname = :n"
                    ),
                    {"n": name},
                )
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        admin.dispose()


@pytest.fixture(params=["sqlite", "mariadb", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database of each supported kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'skyway.db'}"
    else:
        yield from _fresh_database(request.param)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'skyway.db'}"
