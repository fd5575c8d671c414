"""`skyway cloud ACCOUNT ...` on the local vendor, with real Terraform."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from skyway import nodes
from skyway.cli import cloud
from skyway.cli.app import Obj
from skyway.config import Config
from skyway.db import engine, models
from tests.conftest import Cli
from tests.terraform.helpers import Recorder, load

ACCOUNT = "demo-local"
C1 = "demo-local-c1-001"


def resume(root: Path, *names: str) -> nodes.WorkResult:
    config = load(root)
    with engine.session_scope(config.database_url) as session:
        nodes.request(session, ACCOUNT, list(names), "resume", trigger="hook")
    return nodes.work(config, ACCOUNT, Recorder())


def test_plan_apply_history_and_show(cli: Cli, root: Path) -> None:
    resume(root, C1)

    planned = cli("cloud", ACCOUNT, "--plan")

    assert planned.code == 0, planned.err
    assert "✓ run 2 planned: 0 to add, 0 to change, 0 to destroy" in (
        planned.out
    )
    assert "… planning workspace default" in planned.err

    applied = cli("cloud", ACCOUNT, "--apply", "2", "--yes")
    history = cli("cloud", ACCOUNT, "--history")
    shown = cli("cloud", ACCOUNT, "--show", "1")

    assert applied.code == 0, applied.err
    assert "✓ run 3 applied the plan of run 2" in applied.out
    lines = history.out.splitlines()
    assert lines[0].split()[:4] == ["run", "started", "(UTC)", "action"]
    assert lines[2].split()[3:6] == ["resume", "hook", "-"]
    assert "+1 ~0 -0" in lines[2] and lines[2].split()[-3] == "applied"
    who = Obj().who
    assert lines[3].split()[3:6] == ["plan", "admin", who]
    assert lines[4].split()[3:6] == ["apply", "admin", who]
    assert "create" in shown.out
    assert f'module.node.terraform_data.instance["{C1}"]' in shown.out
    assert "plan.tfplan" not in shown.out and "folder:" in shown.out


def test_a_request_queued_during_a_plan_gets_a_worker_after_it(
    cli: Cli, root: Path
) -> None:
    """A hook that found the lock held by an admin's plan left its
    request queued; the plan starts a worker for it as it lets go."""
    config = load(root)
    with engine.session_scope(config.database_url) as session:
        nodes.request(session, ACCOUNT, [C1], "resume", trigger="hook")

    planned = cli("cloud", ACCOUNT, "--plan")

    assert planned.code == 0, planned.err
    deadline = time.monotonic() + 60
    while nodes.has_pending(config, ACCOUNT) or _up(config) != "up":
        assert time.monotonic() < deadline, "no worker served the request"
        time.sleep(0.2)


def _up(config: Config) -> str:
    with engine.session_scope(config.database_url) as session:
        row = session.get(models.NodeMap, C1)
        return row.state if row is not None else ""


def test_a_full_plan_puts_back_a_node_the_workspace_lost(
    cli: Cli, root: Path
) -> None:
    resume(root, C1)
    state = root / "state"
    workspace = state / "workspaces" / ACCOUNT
    (workspace / "terraform.tfstate").unlink()
    (state / "local-nodes" / f"{C1}.json").unlink()

    planned = cli("cloud", ACCOUNT, "--plan")
    applied = cli("cloud", ACCOUNT, "--apply", "--yes")

    assert "1 to add, 0 to change, 0 to destroy" in planned.out
    assert applied.code == 0, applied.err
    assert (state / "local-nodes" / f"{C1}.json").exists()
    config = load(root)
    with engine.session_scope(config.database_url) as session:
        row = session.get(models.NodeMap, C1)
        assert row is not None and row.state == "up"
        assert len(row.instance_id or "") == 36


def test_apply_refuses_a_run_that_is_not_a_saved_plan(
    cli: Cli, root: Path
) -> None:
    resume(root, C1)

    again = cli("cloud", ACCOUNT, "--apply", "1", "--yes")
    missing = cli("cloud", ACCOUNT, "--apply", "99", "--yes")
    nothing = cli("cloud", ACCOUNT, "--apply", "--yes")

    assert again.code == 2
    assert "run 1 is a resume run with status applied" in again.err
    assert missing.code == 2 and "no run 99" in missing.err
    assert nothing.code == 2 and "no saved plan" in nothing.err


def test_a_stale_plan_is_refused_by_terraform(cli: Cli, root: Path) -> None:
    assert cli("cloud", ACCOUNT, "--plan").code == 0
    resume(root, C1)

    result = cli("cloud", ACCOUNT, "--apply", "--yes")

    assert result.code == 1
    assert "run 3 failed" in result.err
    assert "stale" in result.err.lower()


def test_rm_destroys_a_managed_node_with_a_targeted_run(
    cli: Cli, root: Path
) -> None:
    up = resume(root, C1)
    config = load(root)
    with engine.session_scope(config.database_url) as session:
        row = session.get(models.NodeMap, C1)
        assert row is not None
        instance = row.instance_id
    assert instance and C1 in up.up

    listed = cli("cloud", ACCOUNT, "--ls")
    removed = cli("cloud", ACCOUNT, "--rm", instance, "--yes")

    assert listed.code == 0 and instance in listed.out
    assert removed.code == 0, removed.err
    assert f"✓ {C1} ({instance}) destroyed" in removed.out
    with engine.session_scope(config.database_url) as session:
        row = session.get(models.NodeMap, C1)
        assert row is not None and row.state == "idle"
        [entry] = session.scalars(select(models.NodeJournal))
        assert entry.end_reason.startswith("removed by ")
        last = session.scalars(
            select(models.TerraformRun).order_by(models.TerraformRun.id.desc())
        ).first()
        assert last is not None and last.action == "remove"
        assert last.trigger == "admin" and last.summary["destroy"] == 1


def test_rm_asks_before_destroying(cli: Cli, root: Path) -> None:
    resume(root, C1)
    config = load(root)
    with engine.session_scope(config.database_url) as session:
        row = session.get(models.NodeMap, C1)
        assert row is not None and row.instance_id
        instance = row.instance_id

    result = cli("cloud", ACCOUNT, "--rm", instance)

    assert result.code == 2 and "pass --yes" in result.err
    with engine.session_scope(config.database_url) as session:
        row = session.get(models.NodeMap, C1)
        assert row is not None and row.state == "up"


@pytest.fixture
def executed(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    calls: list[list[str]] = []

    def fake_exec(argv: list[str]) -> int:
        calls.append(argv)
        return 0

    monkeypatch.setattr(cloud, "exec_argv", fake_exec)
    return calls


def test_connect_to_a_cloud_node(
    cli: Cli, root: Path, executed: list[list[str]]
) -> None:
    resume(root, C1)

    result = cli("cloud", ACCOUNT, "--connect", C1)

    assert result.code == 0, result.err
    assert executed == [
        [
            "ssh",
            "-o",
            "StrictHostKeyChecking=accept-new",
            "-o",
            "ConnectTimeout=15",
            "-l",
            "root",
            "--",
            "10.199.77.10",
        ]
    ]


def test_connect_to_a_static_node_with_the_key(
    cli: Cli, root: Path, executed: list[list[str]]
) -> None:
    key = root / "id_skyway"
    key.write_text("not a real key\n")
    key.chmod(0o600)
    path = root / "etc" / "cloud.yaml"
    data = yaml.safe_load(path.read_text())
    data["aws"]["key_file"] = str(key)
    path.write_text(yaml.safe_dump(data))

    result = cli("cloud", "rcc-aws", "--connect", "rcc-io")

    assert result.code == 0, result.err
    assert executed == [
        [
            "ssh",
            "-o",
            "StrictHostKeyChecking=accept-new",
            "-o",
            "ConnectTimeout=15",
            "-i",
            str(key),
            "-l",
            "ec2-user",
            "--",
            "10.20.0.5",
        ]
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--connect", "a;b"], "invalid node name 'a;b'"),
        (["--connect", "demo-local-c1-002"], "is not up"),
        (["--connect", "rcc-aws-c1-001"], "not a node of account demo-local"),
        (["--rm", "$(reboot)"], "invalid instance id '$(reboot)'"),
        (["--show", "7"], "no run 7 for account demo-local"),
        (["--plan", "--history"], "expected exactly one of"),
        ([], "expected exactly one of"),
    ],
)
def test_bad_input_gets_one_line_and_exit_2(
    cli: Cli, executed: list[list[str]], args: list[str], message: str
) -> None:
    result = cli("cloud", ACCOUNT, *args)

    assert result.code == 2
    assert message in result.err
    assert executed == []


def test_unknown_account_lists_the_valid_ones(cli: Cli) -> None:
    result = cli("cloud", "../etc", "--plan")

    assert result.code == 2
    assert "expected one of: demo-local, rcc-aws" in result.err
