"""`skyway billing ACCOUNT --summary` over 1,000,000 journal rows.

On SQLite and on MariaDB (a scratch database on 127.0.0.1:3306, dropped
at the end), in one run:
- the summary as the admin runs it (`skyway billing demo-local
  --summary`, in-process: configuration, database, queries, table);
- the bare SQL it needs: the statements the summary sent, replayed on a
  raw DBAPI cursor;
- for scale, the plain aggregate over the raw journal (per type, per
  user, top jobs) that a summary without rollups would need.
Goals: the summary within 1 s (median), and within 1.5x the bare SQL it
needs (median of the ratios of runs made side by side, in alternating
order).
The rollup of the million rows (once, as the billing service does it
while nodes come and go) is timed too.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import redirect_stdout
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from skyway import config  # noqa: E402
from skyway.billing import estimate  # noqa: E402
from skyway.cli.app import run  # noqa: E402
from skyway.cli.main import skyway  # noqa: E402
from skyway.db import engine, models  # noqa: E402
from skyway.db.sync import sync_accounts  # noqa: E402

ROWS = int(os.environ.get("BENCH_ROWS", 1_000_000))
REPEAT = 11
NAIVE_REPEAT = 3
GOAL_SECONDS = 1.0
GOAL_RATIO = 1.5
ACCOUNT = "demo-local"
START = dt.datetime(2026, 1, 1)
MARIADB = os.environ.get(
    "SKYWAY_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306"
)
PRICES = {"c1": Decimal("1.0"), "c2": Decimal("2.5")}


def journal_rows(count: int) -> list[dict[str, Any]]:
    """Node lifetimes over eleven months; a job spans one to three nodes."""
    rng = random.Random(7)
    rows, job, left = [], 1000, 0
    step = (330 * 86400) / count
    for index in range(count):
        if left == 0:
            job, left = job + 1, rng.choice((1, 1, 1, 2, 3))
            user = f"user{rng.randrange(50):02d}"
        left -= 1
        node_type = "c1" if rng.random() < 0.7 else "c2"
        start = START + dt.timedelta(seconds=int(index * step))
        end = start + dt.timedelta(seconds=rng.randrange(300, 7200))
        price = PRICES[node_type]
        rows.append(
            {
                "node": f"{ACCOUNT}-{node_type}-{index % 999 + 1:03d}",
                "account": ACCOUNT,
                "node_type": node_type,
                "price": price,
                "started_at": start,
                "ended_at": end,
                "jobs": str(job),
                "users": user,
                "cost": price * Decimal((end - start).seconds) / 3600,
                "end_reason": "idle",
            }
        )
    return rows


def fill(url: str, root: Path) -> float:
    """Schema, accounts, ROWS journal rows, a few live nodes; rollup time."""
    engine.migrate(url)
    loaded = config.load(root)
    with engine.session_scope(url) as session:
        sync_accounts(session, loaded)
    rows = journal_rows(ROWS)
    table = models.NodeJournal.__table__
    with engine.get_engine(url).begin() as conn:
        for index in range(0, len(rows), 20000):
            conn.execute(sa.insert(table), rows[index : index + 20000])
    now = rows[-1]["ended_at"] + dt.timedelta(hours=1)
    started = time.perf_counter()
    with engine.session_scope(url) as session:
        estimate.rollup(session, now)
    rolled = time.perf_counter() - started
    with engine.get_engine(url).begin() as conn:
        conn.execute(sa.insert(table), journal_rows(200))
        conn.execute(
            sa.insert(models.NodeMap.__table__),
            [
                {
                    "name": f"{ACCOUNT}-c1-{900 + i}",
                    "account": ACCOUNT,
                    "node_type": "c1",
                    "state": "up",
                    "price": Decimal(1),
                    "started_at": now - dt.timedelta(hours=1),
                    "jobs": str(9_000_000 + i),
                    "users": "user01",
                    "reason": "",
                    "updated_at": now,
                }
                for i in range(3)
            ],
        )
    return rolled


def summary_once(root: Path) -> float:
    argv = ["--root", str(root), "billing", ACCOUNT, "--summary"]
    out = io.StringIO()
    started = time.perf_counter()
    with redirect_stdout(out):
        code = run(skyway, "skyway", argv)
    elapsed = time.perf_counter() - started
    if code != 0 or "estimated:" not in out.getvalue():
        raise SystemExit(f"summary failed ({code}): {out.getvalue()[-300:]}")
    return elapsed


def captured(url: str, root: Path) -> list[tuple[str, Any]]:
    """The statements one summary sends (after the schema checks)."""
    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, sql: str, params: Any, *_: Any) -> None:
        seen.append((sql, params))

    bound = engine.get_engine(url)
    sa.event.listen(bound, "before_cursor_execute", record)
    try:
        summary_once(root)
    finally:
        sa.event.remove(bound, "before_cursor_execute", record)
    needed = [
        (sql, params)
        for sql, params in seen
        if any(
            t in sql
            for t in (
                "usage_day",
                "job_usage",
                "node_journal",
                "node_map",
                "cost_record",
                "cost_fetch",
                "budget",
            )
        )
        and sql.lstrip().upper().startswith("SELECT")
    ]
    return needed


def replay(url: str, statements: list[tuple[str, Any]]) -> float:
    """The bare SQL: the same statements on a raw DBAPI cursor."""
    raw = engine.get_engine(url).raw_connection()
    try:
        cursor = raw.cursor()
        started = time.perf_counter()
        for sql, params in statements:
            cursor.execute(sql, params)
            cursor.fetchall()
        elapsed = time.perf_counter() - started
        cursor.close()
    finally:
        raw.close()
    return elapsed


NAIVE = [
    "SELECT node_type, SUM(cost), SUM(cost / price) FROM node_journal "
    "WHERE account = 'demo-local' AND started_at >= '2026-01-01' "
    "GROUP BY node_type",
    "SELECT users, SUM(cost), SUM(cost / price) FROM node_journal "
    "WHERE account = 'demo-local' AND started_at >= '2026-01-01' "
    "GROUP BY users",
    "SELECT jobs, SUM(cost) AS c FROM node_journal "
    "WHERE account = 'demo-local' AND started_at >= '2026-01-01' "
    "GROUP BY jobs ORDER BY c DESC LIMIT 20",
]


def naive(url: str) -> float:
    raw = engine.get_engine(url).raw_connection()
    try:
        cursor = raw.cursor()
        started = time.perf_counter()
        for sql in NAIVE:
            cursor.execute(sql)
            cursor.fetchall()
        elapsed = time.perf_counter() - started
        cursor.close()
    finally:
        raw.close()
    return elapsed


def measure(kind: str, url: str, root: Path) -> dict[str, float]:
    os.environ["SKYWAY_DB_URL"] = url
    rolled = fill(url, root)
    summary_once(root)  # warm caches, as a second admin command would
    statements = captured(url, root)
    times: dict[str, list[float]] = {"summary": [], "bare": [], "naive": []}
    for index in range(REPEAT):
        # Alternate which goes first, so neither always finds the
        # database's caches warmed by the other.
        if index % 2:
            times["bare"].append(replay(url, statements))
            times["summary"].append(summary_once(root))
        else:
            times["summary"].append(summary_once(root))
            times["bare"].append(replay(url, statements))
    # The raw-journal aggregate last: its scans evict the rollups' pages.
    for _ in range(NAIVE_REPEAT):
        times["naive"].append(naive(url))
    found = {name: statistics.median(values) for name, values in times.items()}
    # Each summary against the bare SQL run right beside it: a ratio that
    # other work on the machine moves far less than either time.
    found["ratio"] = statistics.median(
        s / b for s, b in zip(times["summary"], times["bare"], strict=True)
    )
    found["rollup"] = rolled
    found["statements"] = len(statements)
    return found


def mariadb_url() -> tuple[str, str]:
    name = f"skyway_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(MARIADB, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    admin.dispose()
    url = sa.engine.make_url(MARIADB).set(database=name)
    return url.render_as_string(hide_password=False), name


def drop_mariadb(url: str, name: str) -> None:
    cached = engine._ENGINES.pop(url, None)
    if cached is not None:
        cached.dispose()
    admin = sa.create_engine(MARIADB, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
    admin.dispose()


def report(kind: str, found: dict[str, float]) -> bool:
    summary, bare, naive_s = found["summary"], found["bare"], found["naive"]
    ratio = found["ratio"]
    ok = summary <= GOAL_SECONDS and ratio <= GOAL_RATIO
    print(
        f"{kind:<8} summary {summary * 1000:8.1f} ms | bare SQL it needs "
        f"({found['statements']:.0f} statements) {bare * 1000:7.1f} ms | "
        f"ratio {ratio:5.2f} | raw-journal aggregate {naive_s * 1000:8.1f} ms "
        f"(summary/raw {summary / naive_s:4.2f}) | one-off rollup of "
        f"{ROWS:,} rows {found['rollup']:6.1f} s | goal "
        f"{'met' if ok else 'MISSED'}"
    )
    return ok


def main() -> int:
    folder = Path(tempfile.mkdtemp(prefix="skyway-bench-billing-"))
    root = folder / "root"
    shutil.copytree(REPO / "examples/etc", root / "etc")
    print(
        f"{ROWS:,} journal rows; medians of {REPEAT} (raw aggregate: "
        f"{NAIVE_REPEAT}); goals: summary <= "
        f"{GOAL_SECONDS:g} s and <= {GOAL_RATIO}x the bare SQL it needs"
    )
    results = []
    try:
        sqlite = f"sqlite:///{folder / 'skyway.db'}"
        results.append(report("sqlite", measure("sqlite", sqlite, root)))
        url, name = mariadb_url()
        try:
            results.append(report("mariadb", measure("mariadb", url, root)))
        finally:
            drop_mariadb(url, name)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print("all goals met" if all(results) else "some goal MISSED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
