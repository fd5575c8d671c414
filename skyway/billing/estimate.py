"""Estimated spending: node lifetimes times their price, live to now.

Closed `node_journal` rows are folded once into two rollups, usage per
day/type/user and usage per job (`rollup`), so that reports over a
million lifetimes read a few thousand rows. Rows not folded yet, open
rows and live nodes in `node_map` are counted directly (`lifetimes`).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.orm import Session

from skyway.config import Config
from skyway.db import models

log = logging.getLogger(__name__)

LIVE_STATES = ("resuming", "up")
HOUR = Decimal(3600)
MICRO = Decimal("0.000001")
MILLI = Decimal("0.001")
BATCH = 20000
CHUNK = 500
_SEPARATORS = re.compile(r"[\s,;]+")


def names(text: str | None) -> list[str]:
    """The job ids or user names of a journal row, in order, once each."""
    seen: dict[str, None] = {}
    for part in _SEPARATORS.split(text or ""):
        if part:
            seen.setdefault(part[:32], None)
    return list(seen)


def seconds(start: dt.datetime, end: dt.datetime) -> Decimal:
    """Whole-microsecond seconds from start to end, never negative."""
    delta = end - start
    micros = (delta.days * 86400 + delta.seconds) * 10**6 + delta.microseconds
    return max(Decimal(micros) / 10**6, Decimal(0))


def split_days(
    start: dt.datetime, end: dt.datetime
) -> Iterator[tuple[dt.date, Decimal]]:
    """The seconds of [start, end) that fall on each UTC day."""
    while start < end:
        midnight = dt.datetime.combine(
            start.date() + dt.timedelta(days=1), dt.time()
        )
        piece_end = min(end, midnight)
        yield start.date(), seconds(start, piece_end)
        start = piece_end


@dataclass
class Lifetime:
    """A node lifetime not yet in the rollups, clipped to a window."""

    node: str
    node_type: str
    price: Decimal
    started_at: dt.datetime
    ended_at: dt.datetime
    jobs: list[str]
    users: list[str]
    live: bool

    @property
    def seconds(self) -> Decimal:
        return seconds(self.started_at, self.ended_at)

    @property
    def cost(self) -> Decimal:
        return self.price * self.seconds / HOUR


@dataclass
class Window:
    """[start, end) in UTC; `end` is never later than `now`."""

    start: dt.datetime
    end: dt.datetime

    @property
    def first_day(self) -> dt.date:
        return self.start.date()

    @property
    def end_day(self) -> dt.date:
        """The first day not in the window."""
        if self.end.time() == dt.time():
            return self.end.date()
        return self.end.date() + dt.timedelta(days=1)

    def clip(
        self, start: dt.datetime, end: dt.datetime
    ) -> tuple[dt.datetime, dt.datetime] | None:
        low, high = max(start, self.start), min(end, self.end)
        return (low, high) if low < high else None


def window(since: dt.date, until: dt.date | None, now: dt.datetime) -> Window:
    """From the start of `since` to the end of `until` (or now)."""
    start = dt.datetime.combine(since, dt.time())
    end = now
    if until is not None:
        end = min(now, dt.datetime.combine(until, dt.time()) + dt.timedelta(1))
    return Window(start, max(start, end))


def node_price(config: Config, account: str, node_type: str) -> Decimal:
    """The configured $/h of a node type of an account's vendor."""
    vendor = config.accounts[account].vendor
    offered = config.vendors[vendor].node_types.get(node_type)
    return offered.price if offered is not None else Decimal(0)


def lifetimes(
    session: Session,
    config: Config,
    account: str,
    span: Window,
    now: dt.datetime,
) -> list[Lifetime]:
    """Unrolled journal rows and live nodes of an account, clipped."""
    journal = models.NodeJournal
    rows = session.execute(
        select(
            journal.node,
            journal.node_type,
            journal.price,
            journal.started_at,
            journal.ended_at,
            journal.jobs,
            journal.users,
        ).where(journal.account == account, journal.billed_at.is_(None))
    ).all()
    found = [_lifetime(row, span, now) for row in rows]
    open_nodes = {row.node for row in rows if row.ended_at is None}
    found += [
        _live(config, account, node, span, now)
        for node in _live_nodes(session, account)
        if node.name not in open_nodes
    ]
    return [life for life in found if life is not None]


def _lifetime(row: Any, span: Window, now: dt.datetime) -> Lifetime | None:
    ended = getattr(row, "ended_at", None)
    clipped = span.clip(row.started_at, ended or now)
    if clipped is None:
        return None
    return Lifetime(
        node=row.node,
        node_type=row.node_type,
        price=Decimal(row.price),
        started_at=clipped[0],
        ended_at=clipped[1],
        jobs=names(row.jobs),
        users=names(row.users),
        live=ended is None,
    )


def live_nodes(session: Session, account: str) -> list[models.NodeMap]:
    """The account's nodes that are up or coming up, by name."""
    return _live_nodes(session, account)


def _live_nodes(session: Session, account: str) -> list[models.NodeMap]:
    query = (
        select(models.NodeMap)
        .where(
            models.NodeMap.account == account,
            models.NodeMap.state.in_(LIVE_STATES),
        )
        .order_by(models.NodeMap.name)
    )
    return list(session.scalars(query))


def live_price(config: Config, node: models.NodeMap) -> Decimal:
    """A live node's $/h: what the node map says, else the price table."""
    price = Decimal(node.price or 0)
    if price > 0:
        return price
    return node_price(config, node.account, node.node_type)


def _live(
    config: Config,
    account: str,
    node: models.NodeMap,
    span: Window,
    now: dt.datetime,
) -> Lifetime | None:
    if node.started_at is None:
        return None
    clipped = span.clip(node.started_at, now)
    if clipped is None:
        return None
    return Lifetime(
        node=node.name,
        node_type=node.node_type,
        price=live_price(config, node),
        started_at=clipped[0],
        ended_at=clipped[1],
        jobs=names(node.jobs),
        users=names(node.users),
        live=True,
    )


def rolled_cost(session: Session, account: str, span: Window) -> Decimal:
    """Cost of the rolled-up days of an account inside a window."""
    usage = models.UsageDay
    total = session.scalar(
        select(func.sum(usage.cost)).where(
            usage.account == account,
            usage.day >= span.first_day,
            usage.day < span.end_day,
        )
    )
    return Decimal(total or 0)


def spent(
    session: Session,
    config: Config,
    account: str,
    span: Window,
    now: dt.datetime,
) -> Decimal:
    """Estimated spending of an account in a window, live nodes to now."""
    live = sum(
        (life.cost for life in lifetimes(session, config, account, span, now)),
        Decimal(0),
    )
    return (rolled_cost(session, account, span) + live).quantize(MICRO)


def running_rate(session: Session, config: Config, account: str) -> Decimal:
    """The $/h of the account's nodes that are up or coming up."""
    return sum(
        (live_price(config, n) for n in _live_nodes(session, account)),
        Decimal(0),
    )


@dataclass
class _JobTotal:
    users: set[str] = field(default_factory=set)
    node_types: set[str] = field(default_factory=set)
    nodes: int = 0
    first_start: dt.datetime | None = None
    last_end: dt.datetime | None = None
    seconds: Decimal = Decimal(0)
    cost: Decimal = Decimal(0)

    def add(self, row: Lifetime, share: int) -> None:
        self.users.update(row.users)
        self.node_types.add(row.node_type)
        self.nodes += 1
        first, last = self.first_start, self.last_end
        self.first_start = (
            min(first, row.started_at) if first else row.started_at
        )
        self.last_end = max(last, row.ended_at) if last else row.ended_at
        self.seconds += row.seconds / share
        self.cost += row.cost / share


DayKey = tuple[str, dt.date, str, str]


def rollup(
    session: Session, now: dt.datetime | None = None, batch: int = BATCH
) -> int:
    """Fold closed journal rows into the rollups; commit per batch.

    Each batch first claims its rows (`billed_at`), so that two billing
    processes never count a row twice; return how many rows were folded.
    """
    when = now or models.utcnow()
    folded = 0
    while True:
        rows = _closed_batch(session, batch)
        if not rows:
            return folded
        if not _claim(session, [row.id for row in rows], when):
            session.rollback()
            log.warning("journal rows claimed by another billing run")
            return folded
        _fold(session, rows)
        session.commit()
        folded += len(rows)
        log.info("folded %d journal rows into the rollups", len(rows))


def _closed_batch(session: Session, batch: int) -> Sequence[Any]:
    journal = models.NodeJournal
    return session.execute(
        select(
            journal.id,
            journal.account,
            journal.node,
            journal.node_type,
            journal.price,
            journal.started_at,
            journal.ended_at,
            journal.jobs,
            journal.users,
        )
        .where(journal.billed_at.is_(None), journal.ended_at.is_not(None))
        .order_by(journal.id)
        .limit(batch)
    ).all()


def _claim(session: Session, ids: list[int], when: dt.datetime) -> bool:
    journal = models.NodeJournal
    claimed = 0
    for chunk in _chunks(ids, CHUNK):
        result = session.execute(
            update(journal)
            .where(journal.id.in_(chunk), journal.billed_at.is_(None))
            .values(billed_at=when)
            .execution_options(synchronize_session=False)
        )
        claimed += result.rowcount  # type: ignore[attr-defined]
    return claimed == len(ids)


def _fold(session: Session, rows: Sequence[Any]) -> None:
    days: dict[DayKey, list[Decimal]] = defaultdict(
        lambda: [Decimal(0), Decimal(0)]
    )
    jobs: dict[tuple[str, str], _JobTotal] = defaultdict(_JobTotal)
    for row in rows:
        life = _closed(row)
        users = life.users or [""]
        for day, secs in split_days(life.started_at, life.ended_at):
            cost = life.price * secs / HOUR
            for user in users:
                total = days[(row.account, day, life.node_type, user)]
                total[0] += secs / len(users)
                total[1] += cost / len(users)
        for job in life.jobs:
            jobs[(row.account, job)].add(life, len(life.jobs))
    _store_days(session, days)
    _store_jobs(session, jobs)


def _closed(row: Any) -> Lifetime:
    ended = row.ended_at or row.started_at
    return Lifetime(
        node=row.node,
        node_type=row.node_type,
        price=Decimal(row.price),
        started_at=row.started_at,
        ended_at=max(ended, row.started_at),
        jobs=names(row.jobs),
        users=names(row.users),
        live=False,
    )


def _store_days(session: Session, days: dict[DayKey, list[Decimal]]) -> None:
    """Add to existing day rows, insert the others: two bulk statements."""
    usage = models.UsageDay
    for account in {key[0] for key in days}:
        keys = [key for key in days if key[0] == account]
        existing = {
            (account, row.day, row.node_type, row.username): row
            for row in session.execute(
                select(
                    usage.id,
                    usage.day,
                    usage.node_type,
                    usage.username,
                    usage.seconds,
                    usage.cost,
                ).where(
                    usage.account == account,
                    usage.day >= min(key[1] for key in keys),
                    usage.day <= max(key[1] for key in keys),
                )
            )
        }
        new: list[dict[str, Any]] = []
        changed: list[dict[str, Any]] = []
        for key in keys:
            secs, cost = days[key]
            old = existing.get(key)
            if old is None:
                new.append(_usage_day(key, secs, cost))
            else:
                changed.append(
                    {
                        "id": old.id,
                        "seconds": Decimal(old.seconds) + secs.quantize(MILLI),
                        "cost": Decimal(old.cost) + cost.quantize(MICRO),
                    }
                )
        _bulk(session, usage, new, changed)


def _bulk(
    session: Session,
    model: type[models.Base],
    new: list[dict[str, Any]],
    changed: list[dict[str, Any]],
) -> None:
    if new:
        session.execute(insert(model), new)
    if changed:
        session.execute(update(model), changed)


def _usage_day(key: DayKey, secs: Decimal, cost: Decimal) -> dict[str, Any]:
    account, day, node_type, user = key
    return {
        "account": account,
        "day": day,
        "node_type": node_type,
        "username": user,
        "seconds": secs.quantize(MILLI),
        "cost": cost.quantize(MICRO),
    }


def _store_jobs(
    session: Session, jobs: dict[tuple[str, str], _JobTotal]
) -> None:
    """Merge per-job totals into job_usage: two bulk statements."""
    usage = models.JobUsage
    for account in {key[0] for key in jobs}:
        ids = [key[1] for key in jobs if key[0] == account]
        existing: dict[str, Any] = {}
        for chunk in _chunks(ids, CHUNK):
            existing.update(
                (row.job, row)
                for row in session.execute(
                    select(usage).where(
                        and_(usage.account == account, usage.job.in_(chunk))
                    )
                ).scalars()
            )
        new: list[dict[str, Any]] = []
        changed: list[dict[str, Any]] = []
        for job in ids:
            total = jobs[(account, job)]
            old = existing.get(job)
            merged = _merged_job(account, job, total, old)
            (new if old is None else changed).append(merged)
        _bulk(session, usage, new, changed)


def _merged_job(
    account: str,
    job: str,
    total: _JobTotal,
    old: models.JobUsage | None,
) -> dict[str, Any]:
    assert total.first_start is not None and total.last_end is not None
    merged: dict[str, Any] = {
        "users": _joined(old.users if old else "", total.users, 255),
        "node_types": _joined(
            old.node_types if old else "", total.node_types, 128
        ),
        "nodes": (old.nodes if old else 0) + total.nodes,
        "first_start": min(old.first_start, total.first_start)
        if old
        else total.first_start,
        "last_end": max(old.last_end, total.last_end)
        if old
        else total.last_end,
        "seconds": (Decimal(old.seconds) if old else Decimal(0))
        + total.seconds.quantize(MILLI),
        "cost": (Decimal(old.cost) if old else Decimal(0))
        + total.cost.quantize(MICRO),
    }
    if old is None:
        merged.update(account=account, job=job)
    else:
        merged["id"] = old.id
    return merged


def _joined(old: str, new: Iterable[str], limit: int) -> str:
    merged = sorted(set(names(old)) | {n for n in new if n})
    return ",".join(merged)[:limit]


def _chunks(items: Sequence[object], size: int) -> Iterator[list[object]]:
    for index in range(0, len(items), size):
        yield list(items[index : index + size])
