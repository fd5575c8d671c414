"""The reconciler on the local vendor, with real Terraform runs.

Instances are made and destroyed behind Skyway's back by running the
account's own workspace by hand, as an admin with a shell could.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from skyway import nodes
from skyway.config import Config
from skyway.db import engine, models
from skyway.reconcile import (
    ABANDONED,
    GONE,
    ID_MISMATCH,
    SLURM_DOWN,
    SLURM_ORPHAN,
    STATE_ONLY,
    UNTRACKED,
    UNWANTED,
    Seen,
    Views,
    compare,
    reconcile,
    slurm_up,
)
from skyway.terraform.workspace import Workspace
from tests.conftest import Cli
from tests.terraform.helpers import Recorder, load

ACCOUNT = "demo-local"
C1 = "demo-local-c1-001"
C2 = "demo-local-c2-001"
ROGUE = "demo-local-c1-003"


@pytest.fixture
def config(root: Path) -> Config:
    return load(root)


def resume(config: Config, *names: str) -> Recorder:
    told = Recorder()
    with engine.session_scope(config.database_url) as session:
        nodes.request(session, ACCOUNT, list(names), "resume", trigger="hook")
    nodes.work(config, ACCOUNT, told)
    return told


def by_hand(config: Config, node: str, address: str | None) -> None:
    """Create (address) or destroy (None) a node with Terraform by hand."""
    workspace = Workspace(config, config.account(ACCOUNT))
    workspace.prepare()
    name = workspace.workspace_of(node)
    wanted = workspace.read_nodes(name)
    if address is None:
        wanted.pop(node, None)
    else:
        entry = {"node_type": "c1", "address": address, "jobs": "", "user": ""}
        wanted[node] = entry
    workspace.write_nodes(name, wanted)
    plan = config.state_dir / f"by-hand-{node}.tfplan"
    workspace.plan(name, plan, [node])
    outcome, _ = workspace.apply(name, plan)
    assert outcome.ok, outcome.stderr


def grace_file(config: Config) -> dict[str, float]:
    path = config.state_dir / "reconcile" / f"{ACCOUNT}.json"
    data: dict[str, float] = json.loads(path.read_text())
    return data


def records(config: Config) -> set[str]:
    folder = config.state_dir / "local-nodes"
    return {p.stem for p in folder.glob("*.json")}


def row(config: Config, node: str) -> models.NodeMap | None:
    with engine.session_scope(config.database_url) as session:
        return session.get(models.NodeMap, node)


def journal(config: Config, node: str) -> list[models.NodeJournal]:
    with engine.session_scope(config.database_url) as session:
        table = models.NodeJournal
        query = select(table).where(table.node == node).order_by(table.id)
        return list(session.scalars(query))


def test_agreeing_views_show_no_drift(config: Config) -> None:
    resume(config, C1)

    report = reconcile(config, ACCOUNT, grace=0, slurm=False)

    assert report.drift == []
    assert report.queued == []
    assert report.views == ["node_map", "terraform", "vendor"]
    assert records(config) == {C1}


def test_instance_behind_our_back_is_reported_then_destroyed(
    config: Config,
) -> None:
    resume(config, C1)
    by_hand(config, ROGUE, "10.199.77.200")
    assert records(config) == {C1, ROGUE}

    first = reconcile(config, ACCOUNT, grace=600, slurm=False)
    seen_first = grace_file(config)
    second = reconcile(config, ACCOUNT, grace=600, slurm=False)
    seen_second = grace_file(config)
    untouched = records(config)
    third = reconcile(config, ACCOUNT, grace=0, slurm=False)
    told = Recorder()
    nodes.work(config, ACCOUNT, told)

    [found] = first.drift
    assert (found.kind, found.node) == (UNWANTED, ROGUE)
    assert found.action == "destroy in 600 s"
    assert "unknown to the database" in found.detail
    assert first.queued == [] and second.queued == []
    assert second.drift[0].action.startswith("destroy in ")
    assert seen_first == seen_second  # the grace counts from the first
    assert untouched == {C1, ROGUE}
    assert len(third.queued) == 1
    assert third.drift[0].action.startswith("removal queued")
    assert records(config) == {C1}
    assert told.down == [ROGUE]
    rogue = row(config, ROGUE)
    assert rogue is not None and rogue.state == "idle"
    assert rogue.instance_id is None
    assert reconcile(config, ACCOUNT, grace=0, slurm=False).drift == []
    with engine.session_scope(config.database_url) as session:
        last = session.scalars(
            select(models.TerraformRun).order_by(models.TerraformRun.id.desc())
        ).first()
        assert last is not None
        assert (last.action, last.trigger, last.nodes) == (
            "remove",
            "reconcile",
            ROGUE,
        )
        assert last.summary["destroy"] == 1


def test_grace_restarts_when_the_instance_changes(config: Config) -> None:
    by_hand(config, ROGUE, "10.199.77.200")
    reconcile(config, ACCOUNT, grace=600, slurm=False)
    by_hand(config, ROGUE, None)
    by_hand(config, ROGUE, "10.199.77.201")

    report = reconcile(config, ACCOUNT, grace=600, slurm=False)

    assert report.drift[0].action == "destroy in 600 s"
    assert list(grace_file(config)) == [f"{ROGUE}|{report.drift[0].instance}"]


def test_a_node_whose_instance_is_gone_is_failed_and_journal_closed(
    config: Config,
) -> None:
    resume(config, C1, C2)
    by_hand(config, C1, None)
    assert records(config) == {C2}

    report = reconcile(config, ACCOUNT, grace=600, slurm=False)
    told = Recorder()
    nodes.work(config, ACCOUNT, told)

    [found] = report.drift
    assert (found.kind, found.node) == (GONE, C1)
    assert found.action.startswith("DOWN and journal closed by request")
    assert list(told.failed) == [C1]
    assert "reconciler" in told.failed[C1]
    gone = row(config, C1)
    assert gone is not None and gone.state == "failed"
    assert "no instance" in gone.reason
    [lifetime] = journal(config, C1)
    assert lifetime.ended_at is not None and lifetime.cost is not None
    assert "reconciler" in lifetime.end_reason
    kept = row(config, C2)
    assert kept is not None and kept.state == "up"
    assert journal(config, C2)[0].ended_at is None
    assert reconcile(config, ACCOUNT, grace=0, slurm=False).drift == []


def test_a_waiting_request_is_left_to_the_worker(config: Config) -> None:
    resume(config, C1)
    with engine.session_scope(config.database_url) as session:
        nodes.request(session, ACCOUNT, [C1], "suspend", trigger="hook")
    by_hand(config, ROGUE, "10.199.77.200")
    with engine.session_scope(config.database_url) as session:
        nodes.request(session, ACCOUNT, [ROGUE], "resume", trigger="hook")

    report = reconcile(config, ACCOUNT, grace=0, slurm=False)

    assert report.drift == []
    assert records(config) == {C1, ROGUE}


def test_misc_nodes_update_reconciles_and_prints_the_drift(
    config: Config, cli: Cli
) -> None:
    (cli.root / "etc" / "services" / "cloud-demo-local.yaml").write_text(
        "interval: 60\ngrace: 0\n"
    )
    by_hand(config, ROGUE, "10.199.77.200")

    result = cli("misc.nodes", "--update", "-A", ACCOUNT)

    assert result.code == 0, result.err
    assert "demo-local: views node_map, terraform, vendor" in result.out
    line = next(x for x in result.out.splitlines() if ROGUE in x)
    assert "unwanted" in line and "removal queued" in line
    assert records(config) == set()
    clean = cli("misc.nodes", "--update", "-A", ACCOUNT)
    assert "0 drift" in clean.out


def test_misc_nodes_update_refuses_an_unknown_account(cli: Cli) -> None:
    result = cli("misc.nodes", "--update", "-A", "nope")

    assert result.code == 2
    assert "unknown account 'nope'" in result.err


# The comparison alone, on views made by hand.


def views(**given: object) -> Views:
    node_map = {
        name: models.NodeMap(name=name, state=state, instance_id=iid)
        for name, (state, iid) in dict(given.pop("node_map", {})).items()
    }
    defaults: dict[str, object] = {
        "account": ACCOUNT,
        "node_map": node_map,
        "busy": set(),
        "terraform": {},
        "vendor": [],
        "slurm": None,
    }
    return Views(**{**defaults, **given})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("state", "up"),
    [
        ("idle", True),
        ("alloc", True),
        ("mix", True),
        ("idle*", True),
        ("drain", True),
        ("idle~", False),
        ("idle#", False),
        ("idle%", False),
        ("down~", False),
        ("down*", False),
        ("fail", False),
        ("", False),
    ],
)
def test_slurm_up(state: str, up: bool) -> None:
    assert slurm_up(state) is up


def test_slurm_up_without_instance_is_an_orphan() -> None:
    found = compare(
        views(slurm={C1: "idle", C2: "idle~", ROGUE: "alloc"}, busy={ROGUE})
    )

    assert [(d.kind, d.node) for d in found] == [(SLURM_ORPHAN, C1)]


def test_contradictions_are_reported() -> None:
    found = compare(
        views(
            node_map={C1: ("up", "i-1"), C2: ("up", "i-2")},
            terraform={C1: Seen(C1, "i-9"), ROGUE: Seen(ROGUE, "i-3")},
            vendor=[Seen(C1, "i-9"), Seen(C2, "i-2")],
            slurm={C1: "idle~", C2: "alloc"},
        )
    )

    kinds = {(d.kind, d.node) for d in found}
    assert kinds == {
        (ID_MISMATCH, C1),
        (SLURM_DOWN, C1),
        (UNTRACKED, C2),
        (STATE_ONLY, ROGUE),
        (UNWANTED, ROGUE),
    }


def test_a_boot_nobody_carries_on_is_abandoned() -> None:
    found = compare(
        views(
            node_map={C1: ("resuming", None), C2: ("resuming", None)},
            terraform={C1: Seen(C1, "i-1")},
            vendor=[Seen(C1, "i-1")],
            busy={C2},
        )
    )

    assert [(d.kind, d.node, d.instance) for d in found] == [
        (ABANDONED, C1, "i-1")
    ]
    assert "resuming with no worker and an instance" in found[0].detail


def test_without_any_instance_view_nothing_is_called_gone() -> None:
    found = compare(
        views(node_map={C1: ("up", "i-1")}, terraform=None, vendor=None)
    )

    assert found == []


# AWS through boto3 against moto in server mode: the vendor's own list
# holds what Terraform state does not.


def ec2() -> Any:
    import boto3

    session = boto3.session.Session(profile_name="rcc-aws")
    return session.client("ec2", region_name="us-east-1")


def launch(**tags: str) -> str:
    """An EC2 instance made with boto3, behind Skyway's back."""
    client = ec2()
    image = "ami-12c6146b"  # one of moto's built-in images
    spec = [{"Key": k, "Value": v} for k, v in tags.items()]
    made = client.run_instances(
        ImageId=image,
        InstanceType="t2.micro",
        MinCount=1,
        MaxCount=1,
        TagSpecifications=[{"ResourceType": "instance", "Tags": spec}],
    )
    return str(made["Instances"][0]["InstanceId"])


def ec2_state(instance: str) -> str:
    found = ec2().describe_instances(InstanceIds=[instance])
    return str(found["Reservations"][0]["Instances"][0]["State"]["Name"])


def test_aws_instance_outside_terraform_is_terminated_after_grace(
    aws: str, config: Config
) -> None:
    stranger = launch(node="rcc-aws-c1-003", account="rcc-aws")
    untagged = launch(purpose="someone's experiment")

    first = reconcile(config, "rcc-aws", grace=600, slurm=False)
    running = ec2_state(stranger), ec2_state(untagged)
    second = reconcile(config, "rcc-aws", grace=0, slurm=False)

    assert first.views == ["node_map", "terraform", "vendor"]
    assert {(d.kind, d.instance) for d in first.drift} == {
        (UNWANTED, stranger),
        (UNWANTED, untagged),
    }
    assert running == ("running", "running")
    assert {d.action for d in second.drift} == {
        "terminated through the vendor's API"
    }
    assert second.queued == []
    assert ec2_state(stranger) in ("shutting-down", "terminated")
    assert ec2_state(untagged) in ("shutting-down", "terminated")
    assert reconcile(config, "rcc-aws", grace=0, slurm=False).drift == []


def test_aws_node_whose_instance_vanished_is_failed(
    aws: str, config: Config
) -> None:
    kept = launch(node="rcc-aws-c1-001", account="rcc-aws")
    with engine.session_scope(config.database_url) as session:
        for name, instance in (
            ("rcc-aws-c1-001", kept),
            ("rcc-aws-c1-002", "i-0000000000000dead"),
        ):
            session.add(
                models.NodeMap(
                    name=name,
                    account="rcc-aws",
                    node_type="c1",
                    state="up",
                    instance_id=instance,
                )
            )

    report = reconcile(config, "rcc-aws", grace=0, slurm=False)

    assert {(d.kind, d.node) for d in report.drift} == {
        (GONE, "rcc-aws-c1-002"),
        (UNTRACKED, "rcc-aws-c1-001"),  # no Terraform state in this test
    }
    with engine.session_scope(config.database_url) as session:
        [queued] = session.scalars(select(models.NodeRequest)).all()
        assert (queued.node, queued.action, queued.trigger) == (
            "rcc-aws-c1-002",
            "fail",
            "reconcile:skyway",
        )


def test_an_unreadable_state_is_a_missing_view_and_nothing_is_touched(
    config: Config,
) -> None:
    resume(config, C1)
    by_hand(config, ROGUE, "10.199.77.200")
    state = config.state_dir / "workspaces" / ACCOUNT / "terraform.tfstate"
    good = state.read_text()
    state.write_text("{ not json")
    try:
        report = reconcile(config, ACCOUNT, grace=0, slurm=False)
    finally:
        state.write_text(good)

    assert report.views == ["node_map"]
    assert report.drift == [] and report.queued == []
    assert records(config) == {C1, ROGUE}
    after = reconcile(config, ACCOUNT, grace=0, slurm=False)
    assert [(d.kind, d.node) for d in after.drift] == [(UNWANTED, ROGUE)]
