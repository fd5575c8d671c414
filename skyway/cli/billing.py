"""`skyway billing`: budgets, spending and enforcement per account."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import click

from skyway.cli.app import Obj, echo_table, pass_obj
from skyway.errors import InputError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from skyway.billing.report import Overview, Summary

FORMATS = ["table", "csv", "json"]


@click.command()
@click.argument("account", required=False)
@click.option(
    "--set",
    "settings",
    metavar="KEY=VALUE",
    multiple=True,
    help="Set amount=, rate= or start= of the budget.",
)
@click.option(
    "--summary", is_flag=True, help="Hours and cost per type, user and job."
)
@click.option("--since", metavar="DATE", help="Summary from this date.")
@click.option("--until", metavar="DATE", help="Summary up to this date.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
)
@pass_obj
def billing(
    obj: Obj,
    /,
    account: str | None,
    settings: tuple[str, ...],
    summary: bool,
    since: str | None,
    until: str | None,
    fmt: str,
) -> int:
    """Show every account's budget and spending, or change one.

    Spent (estimated) is node lifetimes times their price, live nodes up
    to now; spent (vendor) is what the vendor's cost API reported up to
    its as-of day. The larger of the two counts against the budget.
    """
    if settings:
        if summary or since or until:
            raise InputError("--set cannot be combined with --summary")
        return set_budget(obj, _account(obj, account, "--set"), settings)
    if summary:
        name = _account(obj, account, "--summary")
        return show_summary(obj, name, since, until, fmt)
    if since or until:
        raise InputError("--since and --until go with --summary")
    if account is not None:
        obj.config.account(account)
    return show_overview(obj, account, fmt)


def _account(obj: Obj, account: str | None, option: str) -> str:
    if account is None:
        raise InputError(f"{option} needs an ACCOUNT")
    return obj.config.account(account).name


def set_budget(obj: Obj, account: str, settings: tuple[str, ...]) -> int:
    """Validate every KEY=VALUE, then change and log them together."""
    from skyway.billing import budget, enforce

    changes = budget.parse(settings)
    with obj.session() as session:
        done = budget.apply(session, account, changes, obj.who)
        outcome = enforce.check_account(session, obj.config, account)
    for change in done:
        click.echo(
            f"{account}: {change.key} {change.old_value or '-'} -> "
            f"{change.new_value} (by {change.changed_by})"
        )
    if not done:
        click.echo(f"{account}: budget unchanged")
    if outcome is not None and outcome.old != outcome.new:
        click.echo(f"{account}: status {outcome.old} -> {outcome.new}")
    for error in outcome.errors if outcome else []:
        click.echo(
            f"skyway: warning: {error}; the billing service retries", err=True
        )
    return 1 if outcome and outcome.errors else 0


def show_overview(obj: Obj, account: str | None, fmt: str) -> int:
    """Every account's (or one account's) budget line."""
    from skyway.billing import report
    from skyway.db.models import utcnow

    now = utcnow()
    with obj.session() as session:
        lines = (
            [report.overview(session, obj.config, account, now)]
            if account
            else report.overviews(session, obj.config, now)
        )
    rows = [_overview_row(line, plain=fmt != "table") for line in lines]
    if fmt == "json":
        click.echo(
            json.dumps(
                [dict(zip(HEADERS, r, strict=True)) for r in rows], indent=1
            )
        )
    elif fmt == "csv":
        _echo_csv(rows, HEADERS)
    else:
        echo_table([[c or "-" for c in row] for row in rows], HEADERS)
    for line in lines:
        for problem in line.vendor.problems:
            click.echo(f"note: {problem}", err=fmt != "table")
    return 0


HEADERS = [
    "account",
    "start",
    "amount",
    "spent (est.)",
    "spent (vendor)",
    "vendor as of",
    "balance",
    "max $/h",
    "now $/h",
    "status",
]


def _overview_row(line: Overview, plain: bool) -> list[Any]:
    """One account's cells: $1,000.00 for people, 1000.00 for scripts."""
    from skyway.billing.report import money

    def cell(value: Decimal | None) -> str | None:
        if not plain:
            return money(value)
        return None if value is None else f"{value:.2f}"

    return [
        line.account,
        line.start.isoformat() if line.start else None,
        cell(line.amount),
        cell(line.estimated),
        cell(line.vendor.amount),
        line.vendor.as_of.isoformat() if line.vendor.as_of else None,
        cell(line.balance),
        cell(line.rate_cap),
        cell(line.rate_now),
        line.status,
    ]


def _echo_csv(rows: list[list[Any]], headers: list[str]) -> None:
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(headers)
    writer.writerows(rows)
    click.echo(out.getvalue(), nl=False)


def _date(option: str, text: str | None) -> dt.date | None:
    from skyway.billing.budget import parse_date

    return None if text is None else parse_date(option, text)


def show_summary(
    obj: Obj, account: str, since: str | None, until: str | None, fmt: str
) -> int:
    """The breakdown of one account's spending over a window."""
    from skyway.billing import report
    from skyway.db.models import utcnow

    first, last = _date("--since", since), _date("--until", until)
    if first and last and first > last:
        raise InputError(f"--since {first} is after --until {last}")
    with _read_session(obj) as session:
        found = report.summary(
            session, obj.config, account, first, last, utcnow()
        )
    if fmt == "json":
        click.echo(json.dumps(report.as_dict(found), indent=1))
    elif fmt == "csv":
        click.echo(report.to_csv(found), nl=False)
    else:
        _summary_table(found)
    return 0


@contextmanager
def _read_session(obj: Obj) -> Iterator[Session]:
    """A session for a read-only report: no migration, no sync, unless
    the schema is not current yet (then the usual first-run path)."""
    from skyway.db import engine
    from skyway.errors import DatabaseError

    try:
        engine.require_current(obj.db_url)
    except DatabaseError:
        with obj.session() as session:
            yield session
        return
    with engine.session_scope(obj.db_url) as session:
        yield session


def _section(
    title: str, rows: list[tuple[Any, ...]], headers: list[str]
) -> None:
    click.echo(f"{title}:" if rows else f"{title}: none")
    if rows:
        echo_table(rows, headers)
    click.echo()


def _summary_table(found: Summary) -> None:
    from skyway.billing.report import hours, money

    end = found.until.strftime("%Y-%m-%d %H:%M")
    click.echo(f"{found.account}: {found.since} to {end} UTC\n")
    for title, items in (
        ("node type", found.by_type),
        ("user", found.by_user),
    ):
        _section(
            f"per {title}",
            [(u.name, hours(u.hours), money(u.cost)) for u in items],
            [title, "node hours", "cost"],
        )
    _section(
        f"per job (the {len(found.jobs)} costliest of {found.job_count})",
        [
            (
                u.name,
                u.users or "-",
                u.node_types or "-",
                hours(u.hours),
                money(u.cost),
            )
            for u in found.jobs
        ],
        ["job", "users", "types", "node hours", "cost"],
    )
    _section(
        "running nodes",
        [
            (
                n.node,
                n.node_type,
                n.state,
                n.since.strftime("%Y-%m-%d %H:%M") if n.since else "-",
                money(n.rate),
            )
            for n in found.running
        ],
        ["node", "type", "state", "since", "$/h"],
    )
    click.echo(
        f"rate now {money(found.rate_now)}/h of at most "
        f"{money(found.rate_cap)}/h\n"
    )
    as_of = found.vendor.as_of.isoformat() if found.vendor.as_of else "-"
    click.echo(f"estimated:        {money(found.estimated)}")
    click.echo(
        f"vendor-reported:  {money(found.vendor.amount)} (as of {as_of}; "
        f"{', '.join(found.vendor.sources) or 'no records'})"
    )
    click.echo(f"estimate to then: {money(found.estimated_to_as_of)}")
    click.echo(f"difference:       {money(found.difference)}")
    for name, price in sorted(found.vendor.prices.items()):
        click.echo(
            f"catalog price of {name}: ${Decimal(price):.4f}/h "
            f"(configured ${found.prices.get(name, Decimal(0)):.4f}/h)"
        )
    for problem in found.vendor.problems:
        click.echo(f"note: {problem}")
