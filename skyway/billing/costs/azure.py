"""Azure costs per day from Cost Management, through its SDK.

One query per account over its resource group: actual pre-tax cost per
day, grouped by Skyway's `account` tag. A long answer comes in pages;
each `nextLink` is posted the same query, as the API asks.
`SKYWAY_AZURE_ARM_ENDPOINT` points the client elsewhere (tests); the
certificate of an HTTPS endpoint is checked against `REQUESTS_CA_BUNDLE`
when set.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from decimal import Decimal
from typing import Any

from skyway.billing.costs.common import (
    ACCOUNT_TAG,
    DayCost,
    Sleep,
    retry,
)
from skyway.config import Account

log = logging.getLogger(__name__)
COST_COLUMNS = ("PreTaxCost", "Cost", "CostUSD")
MAX_PAGES = 1000


def client(account: Account) -> Any:
    """A Cost Management client: the Azure vendor's, retries ours."""
    from skyway.vendors import azure

    return azure.client(account)


def scope(account: Account) -> str:
    from skyway.vendors.azure import azure_ids

    ids = azure_ids(account)
    return (
        f"subscriptions/{ids.subscription}/resourceGroups/{ids.resource_group}"
    )


def query(since: dt.date, until: dt.date) -> Any:
    """Actual cost per day in [since, until), by Skyway's account tag."""
    from azure.mgmt.costmanagement.models import (
        QueryAggregation,
        QueryDataset,
        QueryDefinition,
        QueryGrouping,
        QueryTimePeriod,
    )

    last = dt.datetime.combine(until, dt.time()) - dt.timedelta(seconds=1)
    return QueryDefinition(
        type="ActualCost",
        timeframe="Custom",
        time_period=QueryTimePeriod(
            from_property=dt.datetime.combine(since, dt.time()),
            to=last,
        ),
        dataset=QueryDataset(
            granularity="Daily",
            aggregation={
                "totalCost": QueryAggregation(name="PreTaxCost", function="Sum")
            },
            grouping=[QueryGrouping(type="TagKey", name=ACCOUNT_TAG)],
        ),
    )


def throttled(exc: BaseException) -> bool:
    return getattr(exc, "status_code", None) in (429, 503)


def fetch(
    account: Account,
    since: dt.date,
    until: dt.date,
    sleep: Sleep,
    cost_client: Any = None,
) -> list[DayCost]:
    """Daily costs in [since, until), throttling retried."""
    cost_client = cost_client or client(account)
    definition = query(since, until)
    what = f"Cost Management for {account.name}"
    result = retry(
        lambda: cost_client.query.usage(scope(account), definition),
        throttled,
        what,
        sleep,
    )
    days = parse([c.name for c in result.columns], result.rows)
    link = result.next_link
    for _ in range(MAX_PAGES):
        if not link:
            return days
        page = retry(
            functools.partial(_next_page, cost_client, link, definition),
            throttled,
            what,
            sleep,
        )
        days += parse(page["columns"], page["rows"])
        link = page["next_link"]
    raise ValueError(f"{what}: more than {MAX_PAGES} pages")


def _next_page(cost_client: Any, link: str, definition: Any) -> dict[str, Any]:
    """One more page: the same query posted to the answer's nextLink."""
    from azure.core.rest import HttpRequest

    request = HttpRequest("POST", link, json=definition.as_dict())
    response = cost_client.send_request(request)
    response.raise_for_status()
    answer = response.json().get("properties") or {}
    return {
        "columns": [column["name"] for column in answer.get("columns", [])],
        "rows": answer.get("rows") or [],
        "next_link": answer.get("nextLink"),
    }


def parse(columns: list[str], rows: list[list[Any]]) -> list[DayCost]:
    """DayCosts from a query answer, whatever order its columns are in."""
    where = {name: index for index, name in enumerate(columns)}
    cost = next((where[c] for c in COST_COLUMNS if c in where), None)
    if cost is None or "UsageDate" not in where:
        raise ValueError(f"unexpected Cost Management columns: {columns}")
    day, tag = where["UsageDate"], where.get("TagValue")
    currency = where.get("Currency")
    return [
        DayCost(
            _day(row[day]),
            str(row[tag] or "") if tag is not None else "",
            Decimal(str(row[cost])),
            str(row[currency]) if currency is not None else "USD",
        )
        for row in rows
    ]


def _day(value: Any) -> dt.date:
    text = str(value)
    if text.isdigit() and len(text) == 8:
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    return dt.date.fromisoformat(text[:10])
