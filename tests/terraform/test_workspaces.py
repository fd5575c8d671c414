"""Large accounts spread their nodes over workspaces; state backends."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from skyway import nodes
from skyway.db import engine
from skyway.terraform.workspace import SHARD_SIZE, SMALL_ACCOUNT, Workspace
from tests.conftest import _fresh_database
from tests.terraform.helpers import Recorder, add_account, load, set_settings

BIG = "big"


def big(index: int) -> str:
    return f"{BIG}-c1-{index:03d}"


def ask(root: Path, names: list[str], action: str) -> nodes.WorkResult:
    config = load(root)
    with engine.session_scope(config.database_url) as session:
        nodes.request(session, BIG, names, action, trigger="hook")
    return nodes.work(config, BIG, Recorder())


def test_a_large_account_spreads_nodes_over_small_workspaces(
    root: Path,
) -> None:
    add_account(root, BIG, nodes={"c1": 100}, local={"network": "10.8.0.0/24"})
    config = load(root)
    workspace = Workspace(config, config.account(BIG))
    names = [big(i) for i in range(1, 9)]
    spread = {workspace.workspace_of(name) for name in names}

    result = ask(root, names, "resume")

    count = math.ceil(100 / SHARD_SIZE)
    assert workspace.workspaces == [f"s{i:02d}" for i in range(count)]
    assert len(spread) > 1
    assert sorted(result.up) == names and len(result.runs) == 1
    run_dir = root / "state" / "runs" / BIG / str(result.runs[0])
    plans = sorted(p.name for p in run_dir.glob("plan-*.tfplan"))
    assert plans == sorted(f"plan-{name}.tfplan" for name in spread)
    for name in workspace.workspaces:
        in_state = set(workspace.state_nodes(name))
        assert in_state == {
            n for n in names if workspace.workspace_of(n) == name
        }

    gone = ask(root, [big(1)], "suspend")

    assert gone.down == [big(1)]
    run_dir = root / "state" / "runs" / BIG / str(gone.runs[0])
    only = workspace.workspace_of(big(1))
    assert [p.name for p in run_dir.glob("plan-*.tfplan")] == [
        f"plan-{only}.tfplan"
    ]
    summary = json.loads((run_dir / f"plan-{only}.json").read_text())
    assert [c["address"] for c in summary["resource_changes"]] == [
        f'module.node.terraform_data.instance["{big(1)}"]'
    ]


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (1, ["default"]),
        (SMALL_ACCOUNT, ["default"]),
        (SMALL_ACCOUNT + 1, ["s00", "s01", "s02"]),
        (512, [f"s{i:02d}" for i in range(512 // SHARD_SIZE)]),
    ],
)
def test_small_accounts_keep_one_workspace_large_ones_spread(
    root: Path, size: int, expected: list[str]
) -> None:
    add_account(root, BIG, nodes={"c1": size})
    config = load(root)

    assert Workspace(config, config.account(BIG)).workspaces == expected


def test_the_layout_follows_new_limits_once_no_node_runs(root: Path) -> None:
    network = {"network": "10.8.0.0/24"}
    add_account(root, BIG, nodes={"c1": 6}, local=network)
    assert ask(root, [big(1)], "resume").up
    add_account(root, BIG, nodes={"c1": 40}, local=network)

    busy = ask(root, [big(2)], "resume")  # big(1) still runs: no change
    config = load(root)
    workspace = Workspace(config, config.account(BIG))
    assert busy.up and workspace.workspaces == ["default"]

    ask(root, [big(1), big(2)], "suspend")
    again = ask(root, [big(3)], "resume")  # empty now: the new layout

    assert list(again.up) == [big(3)]
    count = math.ceil(40 / SHARD_SIZE)
    assert workspace.workspaces == [f"s{i:02d}" for i in range(count)]
    where = workspace.workspace_of(big(3))
    assert set(workspace.state_nodes(where)) == {big(3)}
    assert workspace.state_nodes("default") == {}


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from _fresh_database("postgres")


def test_state_in_postgresql_through_the_pg_backend(
    root: Path, pg_url: str
) -> None:
    url = sa.engine.make_url(pg_url)
    conn = (
        f"postgres://{url.username}@{url.host}:{url.port}/{url.database}"
        "?sslmode=disable"
    )
    set_settings(
        root,
        terraform={"backend": {"type": "pg", "config": {"conn_str": conn}}},
    )

    result = nodes_up(root)

    assert list(result.up) == ["demo-local-c1-001"]
    admin = sa.create_engine(pg_url)
    try:
        with admin.connect() as db:
            rows = db.execute(
                sa.text("SELECT name, data FROM skyway_demo_local.states")
            ).all()
    finally:
        admin.dispose()
    assert [name for name, _ in rows] == ["default"]
    assert "demo-local-c1-001" in rows[0][1]
    local_state = root / "state" / "workspaces" / "demo-local"
    assert not (local_state / "terraform.tfstate").exists()


def nodes_up(root: Path) -> nodes.WorkResult:
    config = load(root)
    with engine.session_scope(config.database_url) as session:
        nodes.request(session, "demo-local", ["demo-local-c1-001"], "resume")
    return nodes.work(config, "demo-local", Recorder())
