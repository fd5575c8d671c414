"""The clouds' APIs: credentials, instance lists and terminations.

AWS is moto in server mode; GCP and Azure are their real client
libraries talking to local servers that speak their REST protocols.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from skyway.db import engine, models
from tests.conftest import Cli
from tests.fakes.billing_server import make_certificate
from tests.fakes.fake_azure_arm import arm, machine
from tests.fakes.fake_cloud import FakeCloud, Serving
from tests.fakes.fake_gcp_compute import gcp, instance
from tests.terraform.helpers import load


def ec2() -> Any:
    import boto3

    session = boto3.session.Session(profile_name="rcc-aws")
    return session.client("ec2", region_name="us-east-1")


def launch(**tags: str) -> str:
    client = ec2()
    image = client.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    spec = [{"Key": k, "Value": v} for k, v in tags.items()]
    made = client.run_instances(
        ImageId=image,
        InstanceType="t2.micro",
        MinCount=1,
        MaxCount=1,
        TagSpecifications=[{"ResourceType": "instance", "Tags": spec}]
        if spec
        else [],
    )
    return str(made["Instances"][0]["InstanceId"])


def node_up(root: Path, name: str, account: str, instance_id: str) -> None:
    config = load(root)
    with engine.session_scope(config.database_url) as session:
        session.add(
            models.NodeMap(
                name=name,
                account=account,
                node_type="c1",
                state="up",
                instance_id=instance_id,
                address="10.0.0.9",
            )
        )


def journal(root: Path) -> list[models.NodeJournal]:
    config = load(root)
    with engine.session_scope(config.database_url) as session:
        return list(session.scalars(select(models.NodeJournal)))


def edit_account(root: Path, name: str, **changes: Any) -> None:
    path = root / "etc" / "accounts" / f"{name}.yaml"
    data = yaml.safe_load(path.read_text())
    for key, value in changes.items():
        section, _, field = key.partition(".")
        if field:
            data[section][field] = value
        else:
            data[key] = value
    path.write_text(yaml.safe_dump(data))


def test_aws_credentials_are_checked_through_sts(aws: str, cli: Cli) -> None:
    result = cli("cloud", "rcc-aws", "--test")

    assert result.code == 0, result.out + result.err
    assert "✓ workspace renders" in result.out
    assert "✓ credentials: arn:aws:" in result.out
    assert "(AWS account 123456789012)" in result.out


def test_aws_credentials_of_another_account_fail(
    aws: str, cli: Cli, root: Path
) -> None:
    edit_account(root, "rcc-aws", **{"aws.account_id": "210987654321"})
    edit_account(root, "rcc-aws", **{"aws.role": None})

    result = cli("cloud", "rcc-aws", "--test")

    assert result.code == 1
    assert "✗ credentials:" in result.out
    assert "expected 210987654321" in result.out


def test_aws_ls_flags_unknown_instances_and_missing_ones(
    aws: str, cli: Cli, root: Path
) -> None:
    known = launch(node="rcc-aws-c1-001", account="rcc-aws")
    stranger = launch()
    node_up(root, "rcc-aws-c1-001", "rcc-aws", known)
    node_up(root, "rcc-aws-c1-002", "rcc-aws", "i-0000000000000dead")

    result = cli("cloud", "rcc-aws", "--ls")

    assert result.code == 1
    lines = {line.split()[0]: line for line in result.out.splitlines()[2:]}
    assert "rcc-aws-c1-001" in lines[known] and "note" not in lines[known]
    assert lines[known].rstrip().endswith("up")
    assert lines[stranger].rstrip().endswith("unknown to Skyway")
    assert lines["i-0000000000000dead"].rstrip().endswith("instance gone")


def test_aws_rm_terminates_an_unknown_instance_and_journals_it(
    aws: str, cli: Cli, root: Path
) -> None:
    stranger = launch()

    result = cli("cloud", "rcc-aws", "--rm", stranger, "--yes")

    assert result.code == 0, result.err
    found = ec2().describe_instances(InstanceIds=[stranger])
    state = found["Reservations"][0]["Instances"][0]["State"]["Name"]
    assert state in ("shutting-down", "terminated")
    [row] = journal(root)
    assert row.instance_id == stranger and row.account == "rcc-aws"
    assert row.end_reason.startswith("unmanaged instance terminated by ")


def test_rm_of_an_instance_nobody_has_changes_nothing(
    aws: str, cli: Cli, root: Path
) -> None:
    result = cli("cloud", "rcc-aws", "--rm", "i-0123456789abcdef0", "--yes")

    assert result.code == 2
    assert "no instance 'i-0123456789abcdef0' in rcc-aws" in result.err
    assert journal(root) == []


@pytest.fixture
def gcp_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeCloud]:
    items = [
        instance("rcc-gcp-c1-001", "1001", "10.128.0.5", node_type="c1"),
        instance("stray-vm", "2002", "10.128.0.6"),
    ]
    with Serving(gcp(items)) as fake:
        monkeypatch.setenv("SKYWAY_GCP_BILLING_ENDPOINT", fake.url)
        monkeypatch.setenv("SKYWAY_GCP_COMPUTE_ENDPOINT", fake.url)
        yield fake


def test_gcp_credentials_and_instances_through_its_clients(
    gcp_api: FakeCloud, cli: Cli, root: Path
) -> None:
    node_up(root, "rcc-gcp-c1-001", "rcc-gcp", "1001")

    checked = cli("cloud", "rcc-gcp", "--test")
    listed = cli("cloud", "rcc-gcp", "--ls")
    removed = cli("cloud", "rcc-gcp", "--rm", "2002", "--yes")

    assert checked.code == 0, checked.out
    assert "billingAccounts/000000-AAAAAA-BBBBBB (enabled)" in checked.out
    assert listed.code == 1 and "stray-vm" in listed.out
    assert "unknown to Skyway" in listed.out
    assert removed.code == 0, removed.err
    paths = [(r.method, r.path) for r in gcp_api.requests]
    assert ("GET", "/v1/projects/rcc-skyway-demo/billingInfo") in paths
    assert (
        "DELETE",
        "/compute/v1/projects/rcc-skyway-demo/zones/us-central1-a"
        "/instances/stray-vm",
    ) in paths


@pytest.fixture
def azure_api(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, root: Path
) -> Iterator[FakeCloud]:
    cert, key = make_certificate(tmp_path)
    items = [
        machine("rcc-azure-c1-001", "vm-1", node_type="c1"),
        machine("stray-vm", "vm-2"),
    ]
    edit_account(root, "rcc-azure", **{"azure.credentials": {"env": "TOK"}})
    monkeypatch.setenv("TOK", "token-for-tests")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    with Serving(arm(items), tls=(cert, key)) as fake:
        monkeypatch.setenv("SKYWAY_AZURE_ARM_ENDPOINT", fake.url)
        yield fake


def test_azure_credentials_and_instances_through_its_sdk(
    azure_api: FakeCloud, cli: Cli, root: Path
) -> None:
    node_up(root, "rcc-azure-c1-001", "rcc-azure", "vm-1")

    checked = cli("cloud", "rcc-azure", "--test")
    listed = cli("cloud", "rcc-azure", "--ls")
    removed = cli("cloud", "rcc-azure", "--rm", "vm-2", "--yes")

    assert checked.code == 0, checked.out
    assert "'RCC research' (Enabled)" in checked.out
    assert listed.code == 1 and "stray-vm" in listed.out
    assert removed.code == 0, removed.err
    first = azure_api.requests[0]
    assert first.headers["Authorization"] == "Bearer token-for-tests"
    assert first.query["api-version"] == ["2022-12-01"]
    assert azure_api.requests[-1].method == "DELETE"
    assert azure_api.requests[-1].path.endswith("/virtualMachines/stray-vm")
