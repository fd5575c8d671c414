"""What `skyway billing` shows: the overview and the `--summary`.

The overview gives every account's budget, spending (estimated and
vendor-reported), balance, rates and status. The summary breaks an
account's spending down by node type, user and job over a window, next
to the running nodes and what the vendor reported.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from skyway.billing import budget as budgets
from skyway.billing import estimate
from skyway.billing.estimate import Lifetime, Window
from skyway.config import Config
from skyway.db import models

log = logging.getLogger(__name__)
TOP_JOBS = 20
PAGES = 10


@dataclass
class Vendor:
    """What the vendors' cost APIs reported for an account in a window."""

    amount: Decimal | None = None
    as_of: dt.date | None = None
    sources: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    prices: dict[str, str] = field(default_factory=dict)


@dataclass
class Overview:
    """One account's line of `skyway billing`."""

    account: str
    start: dt.date | None
    amount: Decimal | None
    estimated: Decimal
    vendor: Vendor
    rate_cap: Decimal | None
    rate_now: Decimal
    status: str

    @property
    def spent(self) -> Decimal:
        """What counts against the budget: the larger of the two."""
        return max(self.estimated, self.vendor.amount or Decimal(0))

    @property
    def balance(self) -> Decimal | None:
        return None if self.amount is None else self.amount - self.spent


def vendor_costs(session: Session, account: str, span: Window) -> Vendor:
    """Sum of the cost records of an account inside a window."""
    record = models.CostRecord
    rows = session.execute(
        select(record.source, func.sum(record.amount), func.max(record.day))
        .where(
            record.account == account,
            record.day >= span.first_day,
            record.day < span.end_day,
        )
        .group_by(record.source)
    ).all()
    fetches = session.scalars(
        select(models.CostFetch).where(models.CostFetch.account == account)
    ).all()
    found = Vendor(problems=[_problem(f) for f in fetches if f.last_error])
    if rows:
        found.amount = sum((Decimal(r[1]) for r in rows), Decimal(0))
        found.sources = sorted(r[0] for r in rows)
    as_of = [f.as_of for f in fetches if f.as_of] or [r[2] for r in rows]
    found.as_of = min(as_of) if as_of else None
    for fetch in fetches:
        found.prices.update((fetch.detail or {}).get("prices", {}))
    return found


def _problem(fetch: models.CostFetch) -> str:
    good = (
        fetch.last_ok_at.strftime("%Y-%m-%d %H:%M")
        if fetch.last_ok_at
        else "never"
    )
    return (
        f"{fetch.source} costs of {fetch.account} could not be fetched "
        f"({fetch.last_error}); last good fetch: {good}, "
        "showing the records kept from it"
    )


def overview(
    session: Session, config: Config, account: str, now: dt.datetime
) -> Overview:
    """Budget, spending, rates and status of one account."""
    row = session.get(models.Budget, account)
    rate_now = estimate.running_rate(session, config, account)
    if row is None:
        return Overview(
            account, None, None, Decimal(0), Vendor(), None, rate_now, "-"
        )
    span = estimate.window(row.start, None, now)
    spent = estimate.spent(session, config, account, span, now)
    vendor = vendor_costs(session, account, span)
    line = Overview(
        account=account,
        start=row.start,
        amount=Decimal(row.amount),
        estimated=spent,
        vendor=vendor,
        rate_cap=Decimal(row.rate),
        rate_now=rate_now,
        status="",
    )
    line.status = budgets.status(line.spent, line.amount or Decimal(0))
    return line


def overviews(
    session: Session, config: Config, now: dt.datetime
) -> list[Overview]:
    return [
        overview(session, config, name, now) for name in sorted(config.accounts)
    ]


@dataclass
class Usage:
    """Node hours and cost of one node type, user or job."""

    name: str
    hours: Decimal = Decimal(0)
    cost: Decimal = Decimal(0)
    users: str = ""
    node_types: str = ""

    def add(self, seconds: Decimal, cost: Decimal) -> None:
        self.hours += seconds / estimate.HOUR
        self.cost += cost


@dataclass
class Running:
    node: str
    node_type: str
    state: str
    since: dt.datetime | None
    rate: Decimal


@dataclass
class Summary:
    """The breakdown of an account's spending over a window."""

    account: str
    since: dt.date
    until: dt.datetime
    by_type: list[Usage]
    by_user: list[Usage]
    jobs: list[Usage]
    job_count: int
    running: list[Running]
    rate_now: Decimal
    rate_cap: Decimal | None
    estimated: Decimal
    vendor: Vendor
    estimated_to_as_of: Decimal | None
    prices: dict[str, Decimal] = field(default_factory=dict)

    @property
    def difference(self) -> Decimal | None:
        if self.vendor.amount is None or self.estimated_to_as_of is None:
            return None
        return self.vendor.amount - self.estimated_to_as_of


def summary(
    session: Session,
    config: Config,
    account: str,
    since: dt.date | None,
    until: dt.date | None,
    now: dt.datetime,
    top: int = TOP_JOBS,
) -> Summary:
    """Hours and cost per type, user and job; running nodes; vendor view."""
    row = session.get(models.Budget, account)
    first = since or (row.start if row else now.date())
    span = estimate.window(first, until, now)
    fresh = estimate.lifetimes(session, config, account, span, now)
    by_type, by_user = _types_and_users(session, account, span, fresh)
    jobs, job_count = _jobs(session, account, span, fresh, top)
    running = _running(session, config, account)
    vendor = vendor_costs(session, account, span)
    return Summary(
        account=account,
        since=first,
        until=span.end,
        by_type=by_type,
        by_user=by_user,
        jobs=jobs,
        job_count=job_count,
        running=running,
        rate_now=sum((r.rate for r in running), Decimal(0)),
        rate_cap=Decimal(row.rate) if row else None,
        estimated=sum((u.cost for u in by_type), Decimal(0)),
        vendor=vendor,
        prices={
            name: estimate.node_price(config, account, name)
            for name in config.accounts[account].nodes
        },
        estimated_to_as_of=_to_as_of(
            session, config, account, vendor, span, now
        ),
    )


def _to_as_of(
    session: Session,
    config: Config,
    account: str,
    vendor: Vendor,
    span: Window,
    now: dt.datetime,
) -> Decimal | None:
    """The estimate over the days the vendor has reported, to compare."""
    as_of = vendor.as_of
    if as_of is None:
        return None
    until = min(as_of, span.end_day - dt.timedelta(days=1))
    clipped = estimate.window(span.first_day, until, now)
    return estimate.spent(session, config, account, clipped, now)


def _types_and_users(
    session: Session, account: str, span: Window, fresh: list[Lifetime]
) -> tuple[list[Usage], list[Usage]]:
    usage = models.UsageDay
    rows = session.execute(
        select(
            usage.node_type,
            usage.username,
            func.sum(usage.seconds),
            func.sum(usage.cost),
        )
        .where(
            usage.account == account,
            usage.day >= span.first_day,
            usage.day < span.end_day,
        )
        .group_by(usage.node_type, usage.username)
    ).all()
    types: dict[str, Usage] = {}
    users: dict[str, Usage] = {}
    for node_type, user, secs, cost in rows:
        _slot(types, node_type).add(Decimal(secs), Decimal(cost))
        _slot(users, user or "(unknown)").add(Decimal(secs), Decimal(cost))
    for life in fresh:
        _slot(types, life.node_type).add(life.seconds, life.cost)
        share = life.users or ["(unknown)"]
        for user in share:
            _slot(users, user).add(
                life.seconds / len(share), life.cost / len(share)
            )
    return _ranked(types), _ranked(users)


def _slot(table: dict[str, Usage], name: str) -> Usage:
    if name not in table:
        table[name] = Usage(name)
    return table[name]


def _ranked(table: dict[str, Usage]) -> list[Usage]:
    return sorted(table.values(), key=lambda u: (-u.cost, u.name))


def _jobs(
    session: Session,
    account: str,
    span: Window,
    fresh: list[Lifetime],
    top: int,
) -> tuple[list[Usage], int]:
    """The `top` costliest jobs overlapping the window, and their number."""
    usage = models.JobUsage
    inside = (
        usage.account == account,
        usage.last_end > span.start,
        usage.first_start < span.end,
    )
    fresh_jobs = _fresh_jobs(fresh)
    count = session.scalar(select(func.count()).where(*inside)) or 0
    chosen = _top_jobs(session, account, span, top)
    known = session.scalars(
        select(usage).where(
            usage.account == account, usage.job.in_(list(fresh_jobs))
        )
    ).all()
    counted = {
        row.job
        for row in known
        if row.last_end > span.start and row.first_start < span.end
    }
    table = {row.job: _job_usage(row) for row in [*chosen, *known]}
    for job, extra in fresh_jobs.items():
        _merge(_slot(table, job), extra)
    return _ranked(table)[:top], count + len(set(fresh_jobs) - counted)


def _top_jobs(
    session: Session, account: str, span: Window, top: int
) -> list[models.JobUsage]:
    """The costliest jobs overlapping the window.

    Walks the (account, cost) index backwards (cost, then id, both
    descending, so no database sorts) and filters in Python, which stays
    fast for the usual wide windows whatever plan the database would
    pick; narrow windows let the database filter.
    """
    usage = models.JobUsage
    page = max(top * 5, 100)
    found: list[models.JobUsage] = []
    for offset in range(0, PAGES * page, page):
        rows = session.scalars(
            select(usage)
            .where(usage.account == account)
            .order_by(usage.cost.desc(), usage.id.desc())
            .limit(page)
            .offset(offset)
        ).all()
        found += [
            row
            for row in rows
            if row.last_end > span.start and row.first_start < span.end
        ]
        if len(found) >= top or len(rows) < page:
            return found[:top]
    inside = (usage.last_end > span.start, usage.first_start < span.end)
    return list(
        session.scalars(
            select(usage)
            .where(usage.account == account, *inside)
            .order_by(usage.cost.desc(), usage.id.desc())
            .limit(top)
        )
    )


def _job_usage(row: models.JobUsage) -> Usage:
    return Usage(
        row.job,
        Decimal(row.seconds) / estimate.HOUR,
        Decimal(row.cost),
        row.users,
        row.node_types,
    )


def _fresh_jobs(fresh: list[Lifetime]) -> dict[str, Usage]:
    jobs: dict[str, Usage] = {}
    for life in fresh:
        for job in life.jobs:
            slot = _slot(jobs, job)
            slot.add(life.seconds / len(life.jobs), life.cost / len(life.jobs))
            slot.users = ",".join(
                sorted({*slot.users.split(","), *life.users} - {""})
            )
            slot.node_types = ",".join(
                sorted({*slot.node_types.split(","), life.node_type} - {""})
            )
    return jobs


def _merge(into: Usage, extra: Usage) -> None:
    into.hours += extra.hours
    into.cost += extra.cost
    into.users = ",".join(
        sorted({*into.users.split(","), *extra.users.split(",")} - {""})
    )
    into.node_types = ",".join(
        sorted(
            {*into.node_types.split(","), *extra.node_types.split(",")} - {""}
        )
    )


def _running(session: Session, config: Config, account: str) -> list[Running]:
    return [
        Running(
            node.name,
            node.node_type,
            node.state,
            node.started_at,
            estimate.live_price(config, node),
        )
        for node in estimate.live_nodes(session, account)
    ]


def money(value: Decimal | None) -> str:
    if value is None:
        return "-"
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):,.2f}"


def hours(value: Decimal) -> str:
    return f"{value:,.2f}"


def as_dict(found: Summary) -> dict[str, Any]:
    """The summary as JSON-ready data (money as strings with cents)."""

    def clean(value: Any) -> Any:
        if isinstance(value, Decimal):
            return str(value.quantize(Decimal("0.01")))
        if isinstance(value, dt.datetime | dt.date):
            return value.isoformat()
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    data = clean(asdict(found))
    data["difference"] = clean(found.difference)
    return data  # type: ignore[no-any-return]


def to_csv(found: Summary) -> str:
    """One line per type, user, job and running node, with a section."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["section", "name", "hours", "cost", "detail"])
    for section, items in (
        ("type", found.by_type),
        ("user", found.by_user),
        ("job", found.jobs),
    ):
        for item in items:
            writer.writerow(
                [
                    section,
                    item.name,
                    f"{item.hours:.3f}",
                    f"{item.cost:.2f}",
                    item.users,
                ]
            )
    for node in found.running:
        writer.writerow(
            ["running", node.node, "", f"{node.rate:.2f}", node.state]
        )
    totals = [("estimated", found.estimated), ("vendor", found.vendor.amount)]
    totals.append(("difference", found.difference))
    for name, value in totals:
        writer.writerow(
            ["total", name, "", "" if value is None else f"{value:.2f}", ""]
        )
    return out.getvalue()
