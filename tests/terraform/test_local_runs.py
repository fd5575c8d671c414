"""Real Terraform runs on the local vendor: resume, suspend, failures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from skyway import nodes
from skyway.config import Config
from skyway.db import engine, models
from skyway.errors import InputError
from skyway.terraform.workspace import Workspace
from tests.terraform.helpers import (
    Recorder,
    load,
)

ACCOUNT = "demo-local"
C1 = "demo-local-c1-001"
C2 = "demo-local-c2-002"


def ask(config: Config, names: list[str], action: str, **kw: str) -> None:
    with engine.session_scope(config.database_url) as session:
        nodes.request(session, ACCOUNT, names, action, **kw)


def node_rows(config: Config) -> dict[str, models.NodeMap]:
    with engine.session_scope(config.database_url) as session:
        return {r.name: r for r in session.scalars(select(models.NodeMap))}


def journal(config: Config) -> list[models.NodeJournal]:
    with engine.session_scope(config.database_url) as session:
        query = select(models.NodeJournal).order_by(models.NodeJournal.id)
        return list(session.scalars(query))


def runs(config: Config) -> list[models.TerraformRun]:
    with engine.session_scope(config.database_url) as session:
        query = select(models.TerraformRun).order_by(models.TerraformRun.id)
        return list(session.scalars(query))


def test_resume_then_suspend_through_real_terraform(local_root: Path) -> None:
    config = load(local_root)
    told = Recorder()

    ask(config, [C1, C2], "resume", jobs="41", users="alice", trigger="hook")
    first = nodes.work(config, ACCOUNT, told)

    assert first.up == {C1: "10.199.77.10", C2: "10.199.77.11"}
    assert told.up == first.up
    rows = node_rows(config)
    assert rows[C1].state == "up" and rows[C1].jobs == "41"
    assert rows[C1].users == "alice" and float(rows[C1].price) == 1.0
    assert len(rows[C1].instance_id or "") == 36
    records = local_root / "state" / "local-nodes"
    assert json.loads((records / f"{C1}.json").read_text())["address"] == (
        "10.199.77.10"
    )
    [run] = runs(config)
    assert (run.action, run.trigger, run.status) == (
        "resume",
        "hook",
        "applied",
    )
    assert run.summary["add"] == 2 and run.summary["destroy"] == 0
    assert run.nodes == f"{C1},{C2}" and run.jobs == "41"
    folder = Path(run.run_dir)
    assert sorted(p.name for p in folder.iterdir()) == [
        "log.txt",
        "plan.json",
        "plan.tfplan",
    ]
    log = (folder / "log.txt").read_text()
    assert "-target=module.node.terraform_data.instance[" in log

    told.ran = {C1: [("41", "alice"), ("57", "bob")]}  # as sacct says
    ask(config, [C1], "suspend", trigger="hook")
    second = nodes.work(config, ACCOUNT, told)

    assert second.down == [C1] and told.down == [C1]
    rows = node_rows(config)
    assert rows[C1].state == "idle" and rows[C1].instance_id is None
    assert rows[C2].state == "up"
    assert not (records / f"{C1}.json").exists()
    closed, still_open = journal(config)
    assert closed.node == C1 and closed.ended_at is not None
    assert closed.end_reason == "suspended" and closed.cost is not None
    assert closed.jobs == "41,57" and closed.users == "alice,bob"
    assert [list(asked) for asked in told.asked] == [[C1]]
    assert told.asked[0][C1] == closed.started_at
    assert still_open.node == C2 and still_open.ended_at is None
    assert runs(config)[-1].summary["destroy"] == 1
    assert Workspace(config, config.account(ACCOUNT)).read_nodes("default") == {
        C2: {
            "address": "10.199.77.11",
            "jobs": "41",
            "node_type": "c2",
            "user": "alice",
        }
    }


def test_a_failed_boot_leaves_database_and_workspace_consistent(
    local_root: Path,
) -> None:
    config = load(local_root)
    (local_root / "state" / "fail-boot").mkdir(parents=True)
    (local_root / "state" / "fail-boot" / C2).touch()
    told = Recorder()

    ask(config, [C1, C2], "resume", jobs="7", users="alice", trigger="hook")
    result = nodes.work(config, ACCOUNT, told)

    assert list(result.up) == [C1]
    assert "failed on purpose" in result.failed[C2]
    assert "failed on purpose" in told.failed[C2]
    rows = node_rows(config)
    assert rows[C1].state == "up"
    assert rows[C2].state == "failed" and "failed on purpose" in rows[C2].reason
    assert rows[C2].address is None
    workspace = Workspace(config, config.account(ACCOUNT))
    assert list(workspace.read_nodes("default")) == [C1]
    assert sorted(workspace.state_nodes("default")) == [C1]
    [run] = runs(config)
    assert run.status == "failed" and "failed on purpose" in run.error
    with engine.session_scope(config.database_url) as session:
        states = dict(
            session.execute(
                select(models.NodeRequest.node, models.NodeRequest.state)
            ).all()
        )
    assert states == {C1: "done", C2: "failed"}
    assert [row.node for row in journal(config)] == [C1]

    (local_root / "state" / "fail-boot" / C2).unlink()
    ask(config, [C2], "resume", trigger="hook")
    again = nodes.work(config, ACCOUNT, told)

    assert again.up == {C2: "10.199.77.11"}
    assert node_rows(config)[C2].state == "up"


@pytest.mark.parametrize(
    "name",
    [
        "a;b",
        "$(x)",
        "../x",
        "demo-local-c1-" + "1" * 200,
        "DEMO-local-c1-001",
        "demo-local-c1-00ü",
        "rcc-aws-c1-001",
        "demo-local-c1-001 -destroy",
    ],
)
def test_hostile_names_are_refused_before_terraform(
    local_root: Path, name: str
) -> None:
    config = load(local_root)

    with pytest.raises(InputError):
        ask(config, [C1, name], "resume", trigger="hook")

    with engine.session_scope(config.database_url) as session:
        count = session.scalar(
            select(func.count()).select_from(models.NodeRequest)
        )
    assert count == 0
    assert not (local_root / "state" / "workspaces").exists()


def test_out_of_range_nodes_fail_their_request_only(local_root: Path) -> None:
    config = load(local_root)

    ask(config, ["demo-local-c1-009", "demo-local-c9-001", C1], "resume")
    result = nodes.work(config, ACCOUNT, Recorder())

    assert list(result.up) == [C1]
    with engine.session_scope(config.database_url) as session:
        errors = dict(
            session.execute(
                select(models.NodeRequest.node, models.NodeRequest.error)
            ).all()
        )
    assert "expected 1 to 4" in errors["demo-local-c1-009"]
    assert "unknown node type 'c9'" in errors["demo-local-c9-001"]
    assert errors[C1] == ""
