"""The catalog the login-node commands read carries each balance."""

from __future__ import annotations

import json
from pathlib import Path

from skyway import catalog, config
from skyway.db import engine
from tests.billing.conftest import journal


def test_catalog_has_spent_balance_and_status(
    sqlite_db: str, root: Path, tmp_path: Path
) -> None:
    with engine.session_scope(sqlite_db) as session:
        journal(
            session,
            "demo-local-c2-001",
            "2026-03-01 00:00",
            "2026-03-01 20:00",
            "2.5",
            jobs="7",
            users="alice",
        )
    loaded = config.load(root)

    with engine.session_scope(sqlite_db) as session:
        built = catalog.build(loaded, session)
    path = tmp_path / "catalog.json"
    catalog.publish(built, path)
    read = catalog.read(path)

    local = read["accounts"]["demo-local"]["budget"]
    assert local["amount"] == 100.0
    assert local["rate"] == 10.0
    assert local["spent"] == 50.0
    assert local["balance"] == 50.0
    assert local["status"] == "normal"
    assert local["spent_vendor"] is None
    assert read["accounts"]["rcc-aws"]["budget"]["status"] == "normal"
    assert "password" not in json.dumps(read)
    assert path.stat().st_mode & 0o777 == 0o644
