"""GCP: spend from the BigQuery billing export, prices from the catalog.

The Cloud Billing API knows prices, not spend; spend is read from the
account's billing export table in BigQuery (`gcp.billing_table`), grouped
by day and Skyway's `account` label. List prices of the node types come
from the Cloud Billing catalog (Compute Engine SKUs of the region).
`SKYWAY_GCP_BIGQUERY_ENDPOINT` and `SKYWAY_GCP_BILLING_ENDPOINT` point
the clients elsewhere (tests); there, with no credentials configured,
they connect anonymously as to an emulator.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from skyway.billing.costs.common import (
    ACCOUNT_TAG,
    DayCost,
    Sleep,
    endpoint,
    install_hint,
    retry,
)
from skyway.config import Account, GcpIds, NodeType
from skyway.errors import ConfigError

log = logging.getLogger(__name__)
BIGQUERY_VAR = "SKYWAY_GCP_BIGQUERY_ENDPOINT"
BILLING_VAR = "SKYWAY_GCP_BILLING_ENDPOINT"
COMPUTE_SERVICE = "services/6F81-5844-456A"
TABLE_RE = re.compile(r"[a-z][a-z0-9\-]{4,28}[a-z0-9]\.\w{1,1024}\.\w{1,1024}")
THROTTLED = ("TooManyRequests", "ServiceUnavailable", "ResourceExhausted")

SPEND_SQL = """
SELECT
  DATE(usage_start_time) AS day,
  IFNULL((SELECT l.value FROM UNNEST(labels) AS l
          WHERE l.key = @label), '') AS label,
  SUM(cost) + SUM(IFNULL((SELECT SUM(c.amount) FROM UNNEST(credits) AS c),
                         0)) AS amount,
  ANY_VALUE(currency) AS currency
FROM `{table}`
WHERE project.id = @project
  AND DATE(usage_start_time) >= @since
  AND DATE(usage_start_time) < @until
GROUP BY day, label
ORDER BY day, label
"""


def _ids(account: Account) -> GcpIds:
    if not isinstance(account.ids, GcpIds):
        raise ConfigError(account.name, "gcp", "not a GCP account")
    return account.ids


def _table(account: Account) -> str:
    table = _ids(account).billing_table
    if not table or not TABLE_RE.fullmatch(table):
        raise ConfigError(
            f"accounts/{account.name}.yaml",
            "gcp.billing_table",
            f"expected PROJECT.DATASET.TABLE of the billing export, got "
            f"{table!r}",
        )
    return table


def _credentials(account: Account, override: str | None) -> Any:
    from skyway.vendors import gcp

    return gcp.credentials(account, override)


def bigquery_client(account: Account) -> Any:
    """A BigQuery client for the project that holds the export."""
    try:
        from google.api_core.client_options import ClientOptions
        from google.cloud import bigquery
    except ImportError:
        raise ConfigError(
            "gcp",
            "google-cloud-bigquery",
            f"not installed; {install_hint('gcp')}",
        ) from None
    override = endpoint(BIGQUERY_VAR)
    options = ClientOptions(api_endpoint=override) if override else None
    return bigquery.Client(
        project=_table(account).split(".")[0],
        credentials=_credentials(account, override),
        client_options=options,
    )


def throttled(exc: BaseException) -> bool:
    return type(exc).__name__ in THROTTLED or getattr(exc, "code", 0) == 429


def fetch(
    account: Account,
    since: dt.date,
    until: dt.date,
    sleep: Sleep,
    client: Any = None,
) -> list[DayCost]:
    """Daily spend in [since, until) from the billing export."""
    from google.cloud import bigquery

    client = client or bigquery_client(account)
    params = [
        bigquery.ScalarQueryParameter("label", "STRING", ACCOUNT_TAG),
        bigquery.ScalarQueryParameter(
            "project", "STRING", _ids(account).project
        ),
        bigquery.ScalarQueryParameter("since", "DATE", since),
        bigquery.ScalarQueryParameter("until", "DATE", until),
    ]
    config = bigquery.QueryJobConfig(query_parameters=params)
    sql = SPEND_SQL.format(table=_table(account))
    rows = retry(
        lambda: list(
            client.query_and_wait(
                sql, job_config=config, retry=None, job_retry=None
            )
        ),
        throttled,
        f"BigQuery billing export for {account.name}",
        sleep,
    )
    return [
        DayCost(
            _day(row["day"]),
            row["label"] or "",
            Decimal(str(row["amount"])),
            row["currency"] or "USD",
        )
        for row in rows
    ]


def _day(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


def catalog_client(account: Account) -> Any:
    """A Cloud Billing catalog client (REST)."""
    try:
        from google.api_core.client_options import ClientOptions
        from google.cloud import billing_v1
    except ImportError:
        raise ConfigError(
            "gcp",
            "google-cloud-billing",
            f"not installed; {install_hint('gcp')}",
        ) from None
    override = endpoint(BILLING_VAR)
    options = ClientOptions(api_endpoint=override) if override else None
    return billing_v1.CloudCatalogClient(
        transport="rest",
        credentials=_credentials(account, override),
        client_options=options,
    )


def prices(
    account: Account,
    node_types: Mapping[str, NodeType],
    sleep: Sleep,
    client: Any = None,
) -> dict[str, Decimal]:
    """List $/h of each node type: cores x core price + GB x RAM price."""
    client = client or catalog_client(account)
    skus = retry(
        lambda: list(client.list_skus(parent=COMPUTE_SERVICE, retry=None)),
        throttled,
        f"Cloud Billing catalog for {account.name}",
        sleep,
    )
    region = _ids(account).region
    unit = _unit_prices(skus, region)
    found = {}
    for name, node_type in sorted(node_types.items()):
        family = node_type.instance.split("-")[0].upper()
        core, ram = unit.get((family, "Core")), unit.get((family, "Ram"))
        if core is None or ram is None:
            log.info("no catalog price for %s (%s)", name, node_type.instance)
            continue
        memory = Decimal(str(node_type.memory_gb))
        found[name] = core * node_type.cores + ram * memory
    return found


def _unit_prices(
    skus: list[Any], region: str
) -> dict[tuple[str, str], Decimal]:
    """On-demand $/h per (family, Core|Ram) from `N2 Instance Core ...`."""
    unit: dict[tuple[str, str], Decimal] = {}
    pattern = re.compile(r"^(\w+) Instance (Core|Ram) running in ")
    for sku in skus:
        match = pattern.match(sku.description)
        if not match or region not in list(sku.service_regions):
            continue
        if sku.category.usage_type != "OnDemand" or not sku.pricing_info:
            continue
        rates = sku.pricing_info[0].pricing_expression.tiered_rates
        if not rates:
            continue
        money = rates[-1].unit_price
        unit[(match[1].upper(), match[2])] = Decimal(money.units or 0) + (
            Decimal(money.nanos) / 10**9
        )
    return unit


def details(
    account: Account, node_types: Mapping[str, NodeType], sleep: Sleep
) -> dict[str, Any]:
    """What `skyway billing --summary` shows beside the spend: prices."""
    found = prices(account, node_types, sleep)
    return {"prices": {name: str(price) for name, price in found.items()}}
