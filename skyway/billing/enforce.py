"""Budget enforcement: in the scale path and in the billing service.

`admit` runs inside the resume hook: it never starts a node that would
take an account over its maximum $/h, nor any node once the budget is
spent. `check` runs in the billing service (and after `--set`): it
brings each budget's status in line with its spending, holds or
releases the account's Slurm association and mails each change once.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import literal, select, union_all, update
from sqlalchemy.orm import Session

from skyway import names
from skyway.billing import alerts, estimate, report
from skyway.billing import budget as budgets
from skyway.config import Config
from skyway.db import models
from skyway.errors import SkywayError

log = logging.getLogger(__name__)
QUEUED_STATES = ("pending", "running")


class Holder(Protocol):
    """What enforcement needs from Slurm's accounting."""

    def hold(self, account: str) -> None: ...

    def release(self, account: str) -> None: ...

    def cancel_jobs(self, account: str) -> None: ...


class SlurmHolder:
    """Holds through `sacctmgr` and cancels through `scancel`."""

    def hold(self, account: str) -> None:
        from skyway.slurm import accounting

        accounting.hold_account(account, running_too=True)

    def release(self, account: str) -> None:
        from skyway.slurm import accounting

        accounting.release_account(account)

    def cancel_jobs(self, account: str) -> None:
        from skyway.runner import run

        names.check("account", account)
        run(["scancel", f"--account={account}"], timeout=60)
        log.warning("cancelled every job of %s (policy: cancel)", account)


def admit(
    session: Session,
    config: Config,
    account: str,
    nodes: list[str],
    now: dt.datetime | None = None,
) -> tuple[list[str], dict[str, str]]:
    """The nodes the account may start now, and why the others may not.

    Three small statements: lock the account's budget row (so concurrent
    hooks admit one after the other until the caller commits), read it,
    and read the nodes up, resuming or queued for resume. A refusal for
    the rate cap is noted on the budget row, for the billing service's
    mail.
    """
    if account not in config.accounts:
        return [], {n: f"{account!r} is not a Skyway account" for n in nodes}
    row = _locked_budget(session, account)
    if row is None:
        return _known_nodes(config, account, nodes)
    if row.status == budgets.EXCEEDED:
        why = (
            f"budget ${row.amount:,.2f} of {account} spent since "
            f"{row.start}; raise it with `skyway billing {account} "
            "--set amount=...`"
        )
        return [], dict.fromkeys(nodes, why)
    admitted, refused = _within_rate(session, config, account, nodes, row)
    capped = [why for why in refused.values() if why.startswith("rate cap")]
    if capped:
        row.rate_capped_at = now or models.utcnow()
        row.rate_capped_reason = capped[0]
    return admitted, refused


def _locked_budget(session: Session, account: str) -> models.Budget | None:
    """The budget row, write-locked on every database (SQLite included)."""
    table = models.Budget
    session.execute(
        update(table)
        .where(table.account == account)
        .values(rate_capped_reason=table.rate_capped_reason)
        .execution_options(synchronize_session=False)
    )
    return session.get(table, account, populate_existing=True)


def _known_nodes(
    config: Config, account: str, nodes: list[str]
) -> tuple[list[str], dict[str, str]]:
    admitted, refused = [], {}
    for node in dict.fromkeys(nodes):
        node_type = _node_type(config, account, node)
        if node_type is None:
            refused[node] = f"{node} is not a node of {account}"
        else:
            admitted.append(node)
    return admitted, refused


def _node_type(config: Config, account: str, node: str) -> str | None:
    parts = names.split_node(node, config.accounts)
    if parts is None or parts[0] != account:
        return None
    if parts[1] not in config.accounts[account].nodes:
        return None
    return parts[1]


def _within_rate(
    session: Session,
    config: Config,
    account: str,
    nodes: list[str],
    row: models.Budget,
) -> tuple[list[str], dict[str, str]]:
    running = _running(session, config, account)
    rate, cap = sum(running.values(), Decimal(0)), Decimal(row.rate)
    admitted, refused = [], {}
    for node in dict.fromkeys(nodes):
        node_type = _node_type(config, account, node)
        if node_type is None:
            refused[node] = f"{node} is not a node of {account}"
            continue
        if node in running:
            admitted.append(node)
            continue
        price = estimate.node_price(config, account, node_type)
        if rate + price > cap:
            refused[node] = (
                f"rate cap ${cap:,.2f}/h of {account} reached: "
                f"${rate:,.2f}/h running + ${price:,.2f}/h asked"
            )
            continue
        admitted.append(node)
        rate += price
    return admitted, refused


def _running(
    session: Session, config: Config, account: str
) -> dict[str, Decimal]:
    """$/h of each node up, resuming, or queued for resume (one query)."""
    live = select(
        models.NodeMap.name, models.NodeMap.node_type, models.NodeMap.price
    ).where(
        models.NodeMap.account == account,
        models.NodeMap.state.in_(estimate.LIVE_STATES),
    )
    queued = select(
        models.NodeRequest.node,
        literal(""),
        literal(0),
    ).where(
        models.NodeRequest.account == account,
        models.NodeRequest.action == "resume",
        models.NodeRequest.state.in_(QUEUED_STATES),
    )
    running: dict[str, Decimal] = {}
    rows: list[Any] = list(session.execute(union_all(live, queued)))
    for name, node_type, price in rows:
        if Decimal(price or 0) > 0:
            running[name] = Decimal(price)
        elif name not in running:
            parts = names.split_node(name, config.accounts)
            kind = node_type or (parts[1] if parts else "")
            running[name] = estimate.node_price(config, account, kind)
    return running


@dataclass
class Outcome:
    """What one `check` did for one account."""

    account: str
    old: str
    new: str
    spent: Decimal
    mailed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def check(
    config: Config,
    db_url: str,
    now: dt.datetime | None = None,
    holder: Holder | None = None,
    send: alerts.Sender | None = None,
    accounts: Iterable[str] | None = None,
) -> list[Outcome]:
    """Roll up the journal, then enforce every account's budget.

    Every account is handled even if one fails; then EnforcementError
    names the failures, so the billing service shows and retries them.
    """
    from skyway.db.engine import session_scope

    when = now or models.utcnow()
    with session_scope(db_url) as session:
        estimate.rollup(session, when)
    outcomes = []
    for name in sorted(accounts or config.accounts):
        with session_scope(db_url) as session:
            outcome = check_account(session, config, name, when, holder, send)
        if outcome is not None:
            outcomes.append(outcome)
    failed = [o for o in outcomes if o.errors]
    if failed:
        raise EnforcementError(failed)
    return outcomes


class EnforcementError(SkywayError):
    """Some budget could not be enforced or mailed; retried next tick."""

    def __init__(self, outcomes: list[Outcome]) -> None:
        self.outcomes = outcomes
        super().__init__(
            "; ".join(f"{o.account}: {o.errors[0]}" for o in outcomes)
        )


def check_account(
    session: Session,
    config: Config,
    account: str,
    now: dt.datetime | None = None,
    holder: Holder | None = None,
    send: alerts.Sender | None = None,
) -> Outcome | None:
    """Status, Slurm hold and mail of one account, each change once."""
    when = now or models.utcnow()
    row = session.get(models.Budget, account)
    if row is None:
        return None
    line = report.overview(session, config, account, when)
    outcome = Outcome(account, row.status, line.status, line.spent)
    if line.status != row.status:
        try:
            _slurm(
                holder or SlurmHolder(),
                config,
                account,
                row.status,
                line.status,
            )
        except SkywayError as exc:
            log.error("cannot enforce the budget of %s: %s", account, exc)
            outcome.errors.append(str(exc))
            return outcome
        row.status = line.status
        row.status_changed_at = when
    _mail_status(config, row, line.spent, send, outcome)
    _mail_rate(config, row, when, send, outcome)
    session.flush()
    return outcome


def _slurm(
    holder: Holder, config: Config, account: str, old: str, new: str
) -> None:
    if new == budgets.EXCEEDED:
        holder.hold(account)
        if config.account(account).policy.on_exceeded == "cancel":
            holder.cancel_jobs(account)
    elif old == budgets.EXCEEDED:
        holder.release(account)


def _mail_status(
    config: Config,
    row: models.Budget,
    spent: Decimal,
    send: alerts.Sender | None,
    outcome: Outcome,
) -> None:
    if row.mailed_status == row.status:
        return
    subject, body = alerts.status_mail(
        row.account,
        row.status,
        spent,
        Decimal(row.amount),
        row.start,
        config.account(row.account).policy.on_exceeded,
    )
    if _send(config, row.account, subject, body, send, outcome):
        row.mailed_status = row.status


def _mail_rate(
    config: Config,
    row: models.Budget,
    now: dt.datetime,
    send: alerts.Sender | None,
    outcome: Outcome,
) -> None:
    capped, mailed = row.rate_capped_at, row.rate_mailed_at
    if capped is None or (mailed is not None and mailed >= capped):
        return
    if mailed is not None and now - mailed < alerts.RATE_MAIL_EVERY:
        return
    subject, body = alerts.rate_mail(
        row.account, row.rate_capped_reason, Decimal(row.rate)
    )
    if _send(config, row.account, subject, body, send, outcome):
        row.rate_mailed_at = now


def _send(
    config: Config,
    account: str,
    subject: str,
    body: str,
    send: alerts.Sender | None,
    outcome: Outcome,
) -> bool:
    to = alerts.recipients(config, account)
    if not to:
        log.warning("no recipient for %r: set mail.admins", subject)
        return False
    try:
        (send or alerts.default_sender(config))(subject, body, to)
    except SkywayError as exc:
        log.error("mail about %s not sent: %s", account, exc)
        outcome.errors.append(str(exc))
        return False
    outcome.mailed.append(subject)
    return True
