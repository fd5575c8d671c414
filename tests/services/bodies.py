"""A trivial service for the supervision tests, steered through files.

Loaded by the service process through SKYWAY_SERVICE_PLUGINS. Every tick
reads the database and appends a line to `state/ticker.ticks`; a file
`state/ticker.fail` makes the tick fail with its text, and a file
`state/ticker.crash` makes the process crash outright.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from sqlalchemy import text

from skyway.db.engine import session_scope
from skyway.services import registry

NAME = "ticker"


def files(state: Path) -> dict[str, Path]:
    return {
        kind: state / f"{NAME}.{kind}"
        for kind in ("ticks", "fail", "crash", "slow")
    }


def tasks(context: registry.Context) -> list[registry.Task]:
    paths = files(context.config.state_dir)

    def tick() -> None:
        if paths["crash"].exists():
            raise SystemExit(paths["crash"].read_text().strip())
        if paths["fail"].exists():
            raise RuntimeError(paths["fail"].read_text().strip())
        with session_scope(context.db_url) as session:
            session.execute(text("SELECT 1"))
        if paths["slow"].exists():
            time.sleep(float(paths["slow"].read_text()))
        with paths["ticks"].open("a") as out:
            out.write(f"{os.getpid()} {time.time()}\n")

    return [registry.Task("tick", tick, context.interval)]


registry.register(NAME, tasks)
