"""What every vendor's cost fetch shares: retries, storage, failures.

A fetch that is throttled is retried with exponential back-off. A fetch
that fails for good leaves the records of the last good one in place and
writes its error to `cost_fetch`, which `skyway billing` shows.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

from sqlalchemy import delete
from sqlalchemy.orm import Session

from skyway.db import models
from skyway.errors import SkywayError

log = logging.getLogger(__name__)
T = TypeVar("T")

ACCOUNT_TAG = "account"
ATTEMPTS = 5
FIRST_DELAY = 1.0
MAX_DELAY = 30.0
REFETCH_DAYS = 7
Sleep = Callable[[float], None]


class CostFetchError(SkywayError):
    """A vendor's cost API failed for good (after any retries)."""


@dataclass(frozen=True)
class DayCost:
    """One vendor-reported amount: a day, a key (tag or service), money."""

    day: dt.date
    key: str
    amount: Decimal
    currency: str = "USD"


def retry(
    call: Callable[[], T],
    throttled: Callable[[BaseException], bool],
    what: str,
    sleep: Sleep = time.sleep,
    attempts: int = ATTEMPTS,
) -> T:
    """Run `call`, retrying throttling with exponential back-off."""
    delay = FIRST_DELAY
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except Exception as exc:
            if not throttled(exc) or attempt == attempts:
                raise
            pause = min(delay, MAX_DELAY) * (1 + random.random() / 4)
            log.warning(
                "%s throttled (attempt %d of %d); retrying in %.1f s",
                what,
                attempt,
                attempts,
                pause,
            )
            sleep(pause)
            delay *= 2
    raise AssertionError("unreachable")


def store(
    session: Session,
    account: str,
    source: str,
    costs: list[DayCost],
    since: dt.date,
    until: dt.date,
    now: dt.datetime,
) -> int:
    """Replace an account's records of one source for [since, until)."""
    record = models.CostRecord
    session.execute(
        delete(record).where(
            record.account == account,
            record.source == source,
            record.day >= since,
            record.day < until,
        )
    )
    merged: dict[tuple[dt.date, str], DayCost] = {}
    for cost in costs:
        key = (cost.day, cost.key[:128])
        old = merged.get(key)
        amount = cost.amount + (old.amount if old else Decimal(0))
        merged[key] = DayCost(cost.day, key[1], amount, cost.currency)
    session.add_all(
        record(
            account=account,
            day=cost.day,
            source=source,
            key=cost.key,
            amount=cost.amount.quantize(Decimal("0.000001")),
            currency=cost.currency[:8],
            fetched_at=now,
        )
        for cost in merged.values()
        if since <= cost.day < until
    )
    fetch = _fetch_row(session, account, source)
    fetch.as_of = until - dt.timedelta(days=1)
    fetch.last_ok_at = fetch.last_attempt_at = now
    fetch.last_error = ""
    session.flush()
    return len(merged)


def failed(
    session: Session, account: str, source: str, error: str, now: dt.datetime
) -> None:
    """Note a failed fetch; the records of the last good one stay."""
    fetch = _fetch_row(session, account, source)
    fetch.last_attempt_at = now
    fetch.last_error = error[:2000]
    session.flush()


def _fetch_row(session: Session, account: str, source: str) -> models.CostFetch:
    fetch = session.get(models.CostFetch, (account, source))
    if fetch is None:
        fetch = models.CostFetch(
            account=account, source=source, last_error="", detail={}
        )
        session.add(fetch)
    return fetch


def window(
    session: Session, account: str, source: str, start: dt.date, today: dt.date
) -> tuple[dt.date, dt.date]:
    """[since, until) to fetch: from the budget start the first time,
    then the last days again, which vendors still revise."""
    fetch = session.get(models.CostFetch, (account, source))
    since = start
    if fetch is not None and fetch.as_of is not None:
        since = max(start, fetch.as_of - dt.timedelta(days=REFETCH_DAYS))
    return min(since, today), today


def endpoint(variable: str) -> str | None:
    """An API endpoint override from the environment, if any."""
    return os.environ.get(variable) or None


def install_hint(extra: str) -> str:
    return f'pip install "skyway[{extra}]"'
