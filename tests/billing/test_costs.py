"""Vendor costs through the real client libraries and wire protocols.

AWS: boto3 against moto in server mode (results injected, requests read
back from moto's recorder). GCP and Azure: google-cloud-billing,
google-cloud-bigquery and azure-mgmt-costmanagement against local HTTPS
servers speaking their REST protocols.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from skyway import config
from skyway.billing import costs
from skyway.billing.costs import aws, common, gcp
from skyway.db import engine, models
from skyway.vendors import azure as azure_vendor
from tests.conftest import Cli
from tests.fakes.billing_azure import AzureCosts
from tests.fakes.billing_gcp import GcpBilling
from tests.fakes.billing_server import FakeApi, Running, make_certificate
from tests.fakes.moto import post

TODAY = dt.date.today()
DAY1 = TODAY - dt.timedelta(days=3)
DAY2 = TODAY - dt.timedelta(days=2)


@pytest.fixture
def moto(aws: str) -> str:
    """A clean moto (see tests.fakes.moto) that records what it is sent."""
    post(f"{aws}/moto-api/recorder/reset-recording")
    post(f"{aws}/moto-api/recorder/start-recording")
    return aws


def recorded(moto_url: str) -> list[dict[str, Any]]:
    """What boto3 sent to moto, from moto's recorder."""
    with urllib.request.urlopen(
        f"{moto_url}/moto-api/recorder/download-recording"
    ) as answer:
        lines = answer.read().decode().splitlines()
    found = []
    for line in lines:
        entry = json.loads(line)
        body = entry.get("body") or ""
        if entry.get("body_encoded"):
            body = base64.b64decode(body).decode()
        entry["body"] = body
        found.append(entry)
    return found


def ce_page(
    days: list[tuple[dt.date, str, str]], token: str | None = None
) -> dict[str, Any]:
    page: dict[str, Any] = {
        "ResultsByTime": [
            {
                "TimePeriod": {
                    "Start": day.isoformat(),
                    "End": (day + dt.timedelta(days=1)).isoformat(),
                },
                "Total": {},
                "Groups": [
                    {
                        "Keys": [f"account${tag}"],
                        "Metrics": {
                            "UnblendedCost": {"Amount": amount, "Unit": "USD"}
                        },
                    }
                ],
                "Estimated": False,
            }
            for day, tag, amount in days
        ]
    }
    if token:
        page["NextPageToken"] = token
    return page


@pytest.fixture
def tls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    cert, key = make_certificate(tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    return cert, key


@pytest.fixture
def gcp_fake(
    tls: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> Iterator[GcpBilling]:
    with Running(FakeApi(), *tls) as api:
        monkeypatch.setenv(gcp.BIGQUERY_VAR, api.url)
        monkeypatch.setenv(gcp.BILLING_VAR, api.url)
        yield GcpBilling(api)


@pytest.fixture
def azure_fake(
    tls: tuple[Path, Path], root: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[AzureCosts]:
    path = root / "etc/accounts/rcc-azure.yaml"
    data = yaml.safe_load(path.read_text())
    data["azure"]["credentials"] = {"env": "RCC_AZURE_TOKEN"}
    path.write_text(yaml.safe_dump(data))
    monkeypatch.setenv("RCC_AZURE_TOKEN", "token-from-env")
    with Running(FakeApi(), *tls) as api:
        monkeypatch.setenv(azure_vendor.ARM_VAR, api.url)
        yield AzureCosts(api)


class Sleeps:
    def __init__(self) -> None:
        self.pauses: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.pauses.append(seconds)


def records(url: str, account: str) -> list[tuple[str, str, str, str]]:
    with engine.session_scope(url) as session:
        rows = session.scalars(
            select(models.CostRecord)
            .where(models.CostRecord.account == account)
            .order_by(models.CostRecord.day, models.CostRecord.key)
        ).all()
        return [
            (r.day.isoformat(), r.source, r.key, f"{r.amount:.2f}")
            for r in rows
        ]


def test_aws_costs_through_moto(moto: str, sqlite_db: str, root: Path) -> None:
    post(
        f"{moto}/moto-api/static/ce/cost-and-usage-results",
        {
            "results": [
                ce_page([(DAY1, "rcc-aws", "1.25")], token="page-2"),
                ce_page([(DAY2, "rcc-aws", "2.50"), (DAY2, "", "0.10")]),
            ]
        },
    )
    loaded = config.load(root)

    outcome = costs.fetch_account(loaded, sqlite_db, loaded.accounts["rcc-aws"])

    assert outcome.error == ""
    assert records(sqlite_db, "rcc-aws") == [
        (DAY1.isoformat(), "aws", "rcc-aws", "1.25"),
        (DAY2.isoformat(), "aws", "", "0.10"),
        (DAY2.isoformat(), "aws", "rcc-aws", "2.50"),
    ]
    sent = recorded(moto)
    assume = [r for r in sent if "AssumeRole" in r["body"]]
    assert (
        "arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fskyway" in assume[0]["body"]
    )
    calls = [
        json.loads(r["body"])
        for r in sent
        if r["headers"].get("X-Amz-Target", "").endswith("GetCostAndUsage")
    ]
    assert len(calls) == 2
    first, second = calls
    assert first["TimePeriod"] == {
        "Start": "2026-01-01",
        "End": TODAY.isoformat(),
    }
    assert first["Granularity"] == "DAILY"
    assert first["Metrics"] == ["UnblendedCost"]
    assert first["Filter"] == {
        "Dimensions": {"Key": "LINKED_ACCOUNT", "Values": ["123456789012"]}
    }
    assert first["GroupBy"] == [{"Type": "TAG", "Key": "account"}]
    assert "NextPageToken" not in first
    assert second["NextPageToken"] == "page-2"


def test_aws_throttling_is_recognised() -> None:
    from botocore.exceptions import ClientError

    throttled = ClientError(
        {"Error": {"Code": "ThrottlingException", "Message": "slow down"}},
        "GetCostAndUsage",
    )
    denied = ClientError(
        {"Error": {"Code": "AccessDeniedException", "Message": "no"}},
        "GetCostAndUsage",
    )

    assert aws.throttled(throttled)
    assert not aws.throttled(denied)


def test_gcp_spend_from_bigquery_and_prices_from_the_catalog(
    gcp_fake: GcpBilling, sqlite_db: str, root: Path
) -> None:
    gcp_fake.rows = [
        (DAY1.isoformat(), "rcc-gcp", 3.5, "USD"),
        (DAY2.isoformat(), "", 0.25, "USD"),
    ]
    loaded = config.load(root)

    outcome = costs.fetch_account(loaded, sqlite_db, loaded.accounts["rcc-gcp"])

    assert outcome.error == ""
    assert records(sqlite_db, "rcc-gcp") == [
        (DAY1.isoformat(), "gcp", "rcc-gcp", "3.50"),
        (DAY2.isoformat(), "gcp", "", "0.25"),
    ]
    (query,) = gcp_fake.queries()
    assert "`rcc-billing.export.gcp_billing_export_v1`" in query["query"]
    assert query["useLegacySql"] is False
    params = {
        p["name"]: p["parameterValue"]["value"]
        for p in query["queryParameters"]
    }
    assert params == {
        "label": "account",
        "project": "rcc-skyway-demo",
        "since": "2026-01-01",
        "until": TODAY.isoformat(),
    }
    paths = [s.path for s in gcp_fake.api.seen]
    assert "/bigquery/v2/projects/rcc-billing/queries" in paths
    assert "/v1/services/6F81-5844-456A/skus" in paths
    with engine.session_scope(sqlite_db) as session:
        fetch = session.get(models.CostFetch, ("rcc-gcp", "gcp"))
        assert fetch is not None
        prices = {k: Decimal(v) for k, v in fetch.detail["prices"].items()}
    assert prices["c8"].quantize(Decimal("0.0001")) == Decimal("0.3885")
    assert prices["c1"].quantize(Decimal("0.0001")) == Decimal("0.0277")
    assert "g1" not in prices


def test_azure_costs_through_cost_management(
    azure_fake: AzureCosts, sqlite_db: str, root: Path
) -> None:
    day = int(DAY1.strftime("%Y%m%d"))
    azure_fake.rows = [
        [12.5, day, "account", "rcc-azure", "USD"],
        [0.75, day, "account", "", "USD"],
    ]
    loaded = config.load(root)

    outcome = costs.fetch_account(
        loaded, sqlite_db, loaded.accounts["rcc-azure"]
    )

    assert outcome.error == ""
    assert records(sqlite_db, "rcc-azure") == [
        (DAY1.isoformat(), "azure", "", "0.75"),
        (DAY1.isoformat(), "azure", "rcc-azure", "12.50"),
    ]
    (seen,) = azure_fake.queries()
    assert seen.path == (
        "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/"
        "skyway-rg/providers/Microsoft.CostManagement/query"
    )
    assert seen.query["api-version"]
    assert seen.headers["Authorization"] == "Bearer token-from-env"
    body = seen.json()
    assert body["type"] == "ActualCost"
    assert body["timeframe"] == "Custom"
    assert body["timePeriod"]["from"].startswith("2026-01-01T00:00:00")
    last = TODAY - dt.timedelta(days=1)
    assert body["timePeriod"]["to"].startswith(f"{last.isoformat()}T23:59:59")
    assert body["dataset"]["granularity"] == "Daily"
    assert body["dataset"]["grouping"] == [
        {"type": "TagKey", "name": "account"}
    ]
    assert body["dataset"]["aggregation"]["totalCost"] == {
        "name": "PreTaxCost",
        "function": "Sum",
    }


def test_azure_pages_are_followed_through_next_link(
    azure_fake: AzureCosts, sqlite_db: str, root: Path
) -> None:
    days = [TODAY - dt.timedelta(days=n) for n in range(1, 6)]
    azure_fake.rows = [
        [float(n), int(d.strftime("%Y%m%d")), "account", "rcc-azure", "USD"]
        for n, d in enumerate(days, start=1)
    ]
    azure_fake.page = 2
    loaded = config.load(root)

    outcome = costs.fetch_account(
        loaded, sqlite_db, loaded.accounts["rcc-azure"]
    )

    assert outcome.error == ""
    assert outcome.records == 5
    got = {
        day: cost
        for day, _vendor, _tag, cost in records(sqlite_db, "rcc-azure")
    }
    assert got == {d.isoformat(): f"{n}.00" for n, d in enumerate(days, 1)}
    pages = azure_fake.queries()
    assert [s.query.get("$skiptoken") for s in pages] == [None, ["2"], ["4"]]
    assert all(s.json()["type"] == "ActualCost" for s in pages)
    assert all(s.headers["Authorization"] for s in pages)


def test_throttling_is_retried_with_back_off(
    gcp_fake: GcpBilling,
    azure_fake: AzureCosts,
    sqlite_db: str,
    root: Path,
) -> None:
    gcp_fake.rows = [(DAY1.isoformat(), "rcc-gcp", 1.0, "USD")]
    azure_fake.rows = [
        [2.0, int(DAY1.strftime("%Y%m%d")), "account", "x", "USD"]
    ]
    loaded = config.load(root)
    gcp_sleeps, azure_sleeps = Sleeps(), Sleeps()

    gcp_fake.api.throttle(2)
    on_gcp = costs.fetch_account(
        loaded, sqlite_db, loaded.accounts["rcc-gcp"], sleep=gcp_sleeps
    )
    azure_fake.api.throttle(3)
    on_azure = costs.fetch_account(
        loaded, sqlite_db, loaded.accounts["rcc-azure"], sleep=azure_sleeps
    )

    assert (on_gcp.error, on_azure.error) == ("", "")
    assert on_gcp.records == 1 and on_azure.records == 1
    assert len(gcp_sleeps.pauses) >= 2
    assert len(azure_sleeps.pauses) == 3
    first, second, third = azure_sleeps.pauses
    assert first < second < third
    assert third <= common.MAX_DELAY * 1.25


def test_a_failure_keeps_the_last_good_records(
    cli: Cli, azure_fake: AzureCosts, sqlite_db: str, root: Path
) -> None:
    azure_fake.rows = [
        [4.0, int(DAY1.strftime("%Y%m%d")), "account", "", "USD"]
    ]
    loaded = config.load(root)
    account = loaded.accounts["rcc-azure"]
    costs.fetch_account(loaded, sqlite_db, account)
    good = records(sqlite_db, "rcc-azure")

    azure_fake.api.throttle(common.ATTEMPTS, status=429)
    sleeps = Sleeps()
    failed = costs.fetch_account(loaded, sqlite_db, account, sleep=sleeps)
    azure_fake.api.errors = [(500, {"error": {"code": "Boom"}})]
    broken = costs.fetch_account(loaded, sqlite_db, account, sleep=sleeps)
    shown = cli("billing")

    assert "429" in failed.error or "Too many" in failed.error
    assert len(sleeps.pauses) == common.ATTEMPTS - 1
    assert broken.error
    assert records(sqlite_db, "rcc-azure") == good
    assert shown.code == 0, shown.err
    line = next(s for s in shown.out.splitlines() if s.startswith("rcc-azure"))
    assert "$4.00" in line
    assert "note: azure costs of rcc-azure could not be fetched" in shown.out
    assert "showing the records kept from it" in shown.out


def test_every_vendor_in_the_summary(
    cli: Cli,
    moto: str,
    gcp_fake: GcpBilling,
    azure_fake: AzureCosts,
    sqlite_db: str,
    root: Path,
) -> None:
    post(
        f"{moto}/moto-api/static/ce/cost-and-usage-results",
        {"results": [ce_page([(DAY1, "rcc-aws", "7.00")])]},
    )
    gcp_fake.rows = [(DAY1.isoformat(), "rcc-gcp", 5.0, "USD")]
    azure_fake.rows = [
        [3.0, int(DAY1.strftime("%Y%m%d")), "account", "", "USD"]
    ]
    loaded = config.load(root)

    fetched = costs.fetch_all(loaded, sqlite_db)
    summaries = {
        name: cli("billing", name, "--summary", "--format", "json")
        for name in ("rcc-aws", "rcc-gcp", "rcc-azure")
    }
    table = cli("billing", "rcc-gcp", "--summary")

    assert sorted((f.account, f.records) for f in fetched) == [
        ("rcc-aws", 1),
        ("rcc-azure", 1),
        ("rcc-gcp", 1),
    ]
    vendor = {
        name: json.loads(result.out)["vendor"]
        for name, result in summaries.items()
    }
    assert vendor["rcc-aws"]["amount"] == "7.00"
    assert vendor["rcc-gcp"]["amount"] == "5.00"
    assert vendor["rcc-azure"]["amount"] == "3.00"
    assert vendor["rcc-aws"]["as_of"] == (TODAY - dt.timedelta(1)).isoformat()
    data = json.loads(summaries["rcc-aws"].out)
    assert data["estimated"] == "0.00"
    assert data["difference"] == "7.00"
    assert "vendor-reported:  $5.00" in table.out
    assert "difference:       $5.00" in table.out
    assert "catalog price of c8: $0.3885/h (configured $0.3885/h)" in table.out
