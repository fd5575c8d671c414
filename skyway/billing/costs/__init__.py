"""Vendor-reported costs per day, from each vendor's cost API.

One module per vendor (`aws`, `azure`, `gcp`), each with
`fetch(account, since, until, sleep) -> list[DayCost]`; the SDKs are
imported inside them, so only the billing service pays for them.
Endpoints can be pointed elsewhere (tests, proxies) with
`AWS_ENDPOINT_URL`, `SKYWAY_AZURE_ARM_ENDPOINT`,
`SKYWAY_GCP_BILLING_ENDPOINT` and `SKYWAY_GCP_BIGQUERY_ENDPOINT`.
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import time
from dataclasses import dataclass
from typing import Any

from skyway.billing.costs.common import CostFetchError, DayCost, Sleep, store
from skyway.billing.costs.common import failed as note_failure
from skyway.billing.costs.common import window as fetch_window
from skyway.config import Account, Config
from skyway.db import models
from skyway.db.engine import session_scope
from skyway.errors import SkywayError

log = logging.getLogger(__name__)
VENDORS = ("aws", "azure", "gcp")

__all__ = ["CostFetchError", "DayCost", "Fetched", "fetch_account", "fetch_all"]


@dataclass
class Fetched:
    """The outcome of one account's fetch."""

    account: str
    source: str
    records: int = 0
    error: str = ""


def fetch_account(
    config: Config,
    db_url: str,
    account: Account,
    now: dt.datetime | None = None,
    sleep: Sleep = time.sleep,
) -> Fetched:
    """Fetch and store one account's costs; a failure keeps the old ones."""
    when = now or models.utcnow()
    source = account.vendor
    outcome = Fetched(account.name, source)
    with session_scope(db_url) as session:
        row = session.get(models.Budget, account.name)
        start = row.start if row else when.date().replace(day=1)
        since, until = fetch_window(
            session, account.name, source, start, when.date()
        )
    if since >= until:
        return outcome
    vendor = importlib.import_module(f"skyway.billing.costs.{source}")
    try:
        costs: list[DayCost] = vendor.fetch(account, since, until, sleep)
    except Exception as exc:  # any SDK error: keep the last good records
        outcome.error = _one_line(exc)
        log.error("%s costs of %s: %s", source, account.name, outcome.error)
        with session_scope(db_url) as session:
            note_failure(session, account.name, source, outcome.error, when)
        return outcome
    detail = _details(config, account, vendor, sleep)
    with session_scope(db_url) as session:
        outcome.records = store(
            session, account.name, source, costs, since, until, when
        )
        if detail:
            fetched = session.get(models.CostFetch, (account.name, source))
            assert fetched is not None
            fetched.detail = detail
    log.info(
        "%s costs of %s: %d records", source, account.name, outcome.records
    )
    return outcome


def _details(
    config: Config, account: Account, vendor: Any, sleep: Sleep
) -> dict[str, Any]:
    """Extra facts a vendor offers (GCP: list prices); never fatal."""
    if not hasattr(vendor, "details"):
        return {}
    offered = config.vendors[account.vendor].node_types
    types = {name: offered[name] for name in account.nodes}
    try:
        found: dict[str, Any] = vendor.details(account, types, sleep)
    except Exception as exc:  # prices are a nicety; spend still counts
        log.warning("details of %s: %s", account.name, _one_line(exc))
        return {}
    return found


def fetch_all(
    config: Config,
    db_url: str,
    now: dt.datetime | None = None,
    sleep: Sleep = time.sleep,
) -> list[Fetched]:
    """Fetch every cloud account's costs; raise if any fetch failed."""
    outcomes = [
        fetch_account(config, db_url, account, now, sleep)
        for account in config.accounts.values()
        if account.vendor in VENDORS
    ]
    failures = [o for o in outcomes if o.error]
    if failures:
        raise CostFetchError(
            "; ".join(
                f"{o.source} costs of {o.account}: {o.error}" for o in failures
            )
        )
    return outcomes


def _one_line(exc: BaseException) -> str:
    text = (
        str(exc)
        if isinstance(exc, SkywayError)
        else f"{type(exc).__name__}: {exc}"
    )
    return (text.strip().splitlines() or [type(exc).__name__])[0][:300]
