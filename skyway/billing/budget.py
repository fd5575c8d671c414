"""Budgets: validated changes with an audit trail, and their status.

`skyway billing ACCOUNT --set amount=10 --set rate=6.0 --set start=...`
goes through `parse` (every value checked before anything is written)
and `apply` (one `budget_change` row per key, with who and when).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation

from sqlalchemy.orm import Session

from skyway.db import models
from skyway.errors import InputError

log = logging.getLogger(__name__)

NORMAL, WARNING, EXCEEDED = "normal", "warning", "exceeded"
WARNING_SHARE = Decimal("0.8")
MAX_MONEY = Decimal("99999999.99")
Value = Decimal | dt.date


def _money(key: str, text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite():
        raise InputError(
            f"invalid {key} {text!r}: expected a number of dollars, "
            "such as 10 or 6.5"
        )
    if value < 0 or value > MAX_MONEY:
        raise InputError(
            f"invalid {key} {text!r}: expected a number from 0 to "
            f"{MAX_MONEY:,.2f}"
        )
    return value.quantize(Decimal("0.000001"))


def parse_date(key: str, text: str) -> dt.date:
    """A real calendar date written YYYY-MM-DD, or an InputError."""
    try:
        if len(text) != 10:
            raise ValueError(text)
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(
            f"invalid {key} {text!r}: expected a real date as YYYY-MM-DD"
        ) from None


PARSERS: dict[str, Callable[[str, str], Value]] = {
    "amount": _money,
    "rate": _money,
    "start": parse_date,
}


def parse(items: Sequence[str]) -> dict[str, Value]:
    """Turn `KEY=VALUE` strings into checked values, or raise InputError."""
    valid = ", ".join(PARSERS)
    changes: dict[str, Value] = {}
    for item in items:
        key, eq, text = item.partition("=")
        key, text = key.strip(), text.strip()
        if not eq or not text:
            raise InputError(
                f"invalid --set {item!r}: expected KEY=VALUE with KEY one "
                f"of: {valid}"
            )
        if key not in PARSERS:
            raise InputError(
                f"unknown budget key {key!r} in --set {item!r}; expected "
                f"one of: {valid}"
            )
        changes[key] = PARSERS[key](key, text)
    return changes


def show(value: Value | None) -> str | None:
    """A budget value as it is written in the change log."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    return value.isoformat()


def apply(
    session: Session,
    account: str,
    changes: dict[str, Value],
    who: str,
    now: dt.datetime | None = None,
) -> list[models.BudgetChange]:
    """Write checked changes to an account's budget and log each one."""
    when = now or models.utcnow()
    row = session.get(models.Budget, account)
    if row is None:
        row = models.Budget(
            account=account,
            start=when.date(),
            amount=Decimal(0),
            rate=Decimal(0),
            status=NORMAL,
            mailed_status=NORMAL,
        )
        session.add(row)
    done = []
    for key, value in changes.items():
        old = show(getattr(row, key, None))
        if old == show(value):
            continue
        setattr(row, key, value)
        change = models.BudgetChange(
            account=account,
            key=key,
            old_value=old,
            new_value=show(value),
            changed_by=who,
            changed_at=when,
        )
        session.add(change)
        done.append(change)
        log.info(
            "budget %s of %s: %s -> %s by %s", key, account, old, value, who
        )
    row.updated_by = who
    row.updated_at = when
    session.flush()
    return done


def status(spent: Decimal, amount: Decimal) -> str:
    """normal, warning from 80 % of the amount, exceeded from 100 %."""
    if spent >= amount:
        return EXCEEDED
    if spent >= amount * WARNING_SHARE:
        return WARNING
    return NORMAL
