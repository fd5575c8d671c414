"""AWS: EC2 instances through Terraform; STS and EC2 through boto3.

boto3 follows `AWS_ENDPOINT_URL`, which the tests point at moto.
"""

from __future__ import annotations

import logging
from typing import Any

from skyway.config import Account, AwsIds, Config
from skyway.errors import ConfigError
from skyway.vendors.base import Instance, Vendor, missing_sdk

log = logging.getLogger(__name__)
LIVE = ("pending", "running", "stopping", "stopped")


def _ids(account: Account) -> AwsIds:
    ids = account.ids
    if not isinstance(ids, AwsIds):
        raise ConfigError(account.name, "aws", "not an AWS account")
    return ids


def session(account: Account) -> Any:
    """A boto3 session with the account's profile (if any) and region."""
    try:
        import boto3
    except ImportError:
        raise missing_sdk("aws", "boto3") from None
    ids = _ids(account)
    profile = ids.credentials.profile if ids.credentials else None
    try:
        return boto3.session.Session(
            profile_name=profile, region_name=ids.region
        )
    except Exception as exc:  # botocore's ProfileNotFound and friends
        raise ConfigError(
            f"accounts/{account.name}.yaml", "aws.credentials", str(exc)
        ) from None


class AwsVendor(Vendor):
    name = "aws"
    node_resources = ("aws_instance.node",)

    def check_credentials(self, config: Config, account: Account) -> str:
        ids = _ids(account)
        identity = session(account).client("sts").get_caller_identity()
        if identity["Account"] != ids.account_id:
            raise ConfigError(
                f"accounts/{account.name}.yaml",
                "aws.account_id",
                f"credentials are for AWS account {identity['Account']}, "
                f"expected {ids.account_id}",
            )
        return f"{identity['Arn']} (AWS account {identity['Account']})"

    def list_instances(
        self, config: Config, account: Account
    ) -> list[Instance]:
        ec2 = session(account).client("ec2")
        found = []
        pages = ec2.get_paginator("describe_instances").paginate(
            Filters=[{"Name": "instance-state-name", "Values": list(LIVE)}]
        )
        for page in pages:
            for reservation in page["Reservations"]:
                found += [_instance(item) for item in reservation["Instances"]]
        return found

    def terminate(
        self, config: Config, account: Account, instance_id: str
    ) -> None:
        ec2 = session(account).client("ec2")
        ec2.terminate_instances(InstanceIds=[instance_id])
        log.info("terminated %s in %s", instance_id, account.name)


def _instance(item: dict[str, Any]) -> Instance:
    tags = {tag["Key"]: tag["Value"] for tag in item.get("Tags", [])}
    return Instance(
        id=item["InstanceId"],
        node=tags.get("node", ""),
        state=item["State"]["Name"],
        address=item.get("PrivateIpAddress", ""),
        node_type=tags.get("node_type", ""),
    )
