"""AWS costs per day from Cost Explorer, through boto3.

Costs of the account's linked AWS account, grouped by Skyway's
`account` tag (untagged costs count too: the account is Skyway's).
boto3 follows `AWS_ENDPOINT_URL`, which tests point at moto.
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal
from typing import Any

from skyway.billing.costs.common import (
    ACCOUNT_TAG,
    DayCost,
    Sleep,
    install_hint,
    retry,
)
from skyway.config import Account, AwsIds
from skyway.errors import ConfigError

log = logging.getLogger(__name__)
CE_REGION = "us-east-1"
METRIC = "UnblendedCost"
THROTTLED = {
    "Throttling",
    "ThrottlingException",
    "TooManyRequestsException",
    "LimitExceededException",
    "RequestLimitExceeded",
}


def client(account: Account) -> Any:
    """A Cost Explorer client with the account's credentials."""
    try:
        import boto3
        from botocore.config import Config as BotoConfig
    except ImportError:
        raise ConfigError(
            "aws", "boto3", f"not installed; {install_hint('aws')}"
        ) from None
    ids = _ids(account)
    profile = ids.credentials.profile if ids.credentials else None
    session = boto3.Session(profile_name=profile, region_name=CE_REGION)
    if ids.role:
        session = _assumed(session, ids.role, account.name)
    settings = BotoConfig(retries={"max_attempts": 1, "mode": "standard"})
    return session.client("ce", region_name=CE_REGION, config=settings)


def _ids(account: Account) -> AwsIds:
    if not isinstance(account.ids, AwsIds):
        raise ConfigError(account.name, "aws", "not an AWS account")
    return account.ids


def _assumed(session: Any, role: str, account: str) -> Any:
    import boto3

    answer = session.client("sts").assume_role(
        RoleArn=role, RoleSessionName=f"skyway-billing-{account}"[:64]
    )
    keys = answer["Credentials"]
    return boto3.Session(
        aws_access_key_id=keys["AccessKeyId"],
        aws_secret_access_key=keys["SecretAccessKey"],
        aws_session_token=keys["SessionToken"],
        region_name=CE_REGION,
    )


def request(account: Account, since: dt.date, until: dt.date) -> dict[str, Any]:
    """The GetCostAndUsage request for one account and window."""
    return {
        "TimePeriod": {"Start": since.isoformat(), "End": until.isoformat()},
        "Granularity": "DAILY",
        "Metrics": [METRIC],
        "Filter": {
            "Dimensions": {
                "Key": "LINKED_ACCOUNT",
                "Values": [_ids(account).account_id],
            }
        },
        "GroupBy": [{"Type": "TAG", "Key": ACCOUNT_TAG}],
    }


def throttled(exc: BaseException) -> bool:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return False
    code = response.get("Error", {}).get("Code", "")
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code in THROTTLED or status == 429


def fetch(
    account: Account,
    since: dt.date,
    until: dt.date,
    sleep: Sleep,
    ce: Any = None,
) -> list[DayCost]:
    """Daily costs in [since, until), every page, throttling retried."""
    ce = ce or client(account)
    base = request(account, since, until)
    costs: list[DayCost] = []
    token = None
    while True:
        args = {**base, **({"NextPageToken": token} if token else {})}
        page = retry(
            lambda args=args: ce.get_cost_and_usage(**args),  # type: ignore[misc]
            throttled,
            f"Cost Explorer for {account.name}",
            sleep,
        )
        costs += parse(page)
        token = page.get("NextPageToken")
        if not token:
            return costs


def parse(page: dict[str, Any]) -> list[DayCost]:
    """DayCosts from one GetCostAndUsage answer (groups or totals)."""
    costs = []
    for result in page.get("ResultsByTime", []):
        day = dt.date.fromisoformat(result["TimePeriod"]["Start"])
        groups = result.get("Groups") or [
            {"Keys": [""], "Metrics": result.get("Total", {})}
        ]
        for group in groups:
            metric = group.get("Metrics", {}).get(METRIC)
            if not metric:
                continue
            key = (group.get("Keys") or [""])[0]
            costs.append(
                DayCost(
                    day,
                    key.partition("$")[2] if "$" in key else key,
                    Decimal(str(metric["Amount"])),
                    metric.get("Unit", "USD"),
                )
            )
    return costs
