"""Fault tests of the cloud-ACCOUNT service on the local vendor.

Real Terraform, real processes: the worker is killed in the middle of an
apply, an instance is made behind Skyway's back, and each time the
service must converge with no instance leaked and no journal row lost.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from skyway import config as configuration
from skyway import locks, nodes
from skyway.config import Config
from skyway.db import engine, models
from skyway.db.models import utcnow
from skyway.reconcile import reconcile
from skyway.services import supervise
from skyway.terraform.workspace import Workspace
from tests.conftest import Cli
from tests.services.conftest import wait_for
from tests.services.test_supervise import status_of
from tests.test_reconcile import (
    ACCOUNT,
    ROGUE,
    by_hand,
    load,
    records,
    resume,
)

SERVICE = f"cloud-{ACCOUNT}"
GRACE = 4
A = "demo-local-c1-001"
B = "demo-local-c1-002"


@pytest.fixture
def cloud(service_root: Path, cli: Cli) -> Cli:
    """The CLI on a root whose cloud service reconciles every 2 s."""
    path = service_root / "etc" / "services" / f"{SERVICE}.yaml"
    path.write_text(f"interval: 2\ngrace: {GRACE}\n")
    load(service_root)
    assert cli("service", "--regist", SERVICE).code == 0
    return cli


def service_log(root: Path) -> str:
    path = supervise.log_file(configuration.load(root), SERVICE)
    return path.read_text() if path.exists() else ""


def requests(config: Config, *states: str) -> list[models.NodeRequest]:
    table = models.NodeRequest
    with engine.session_scope(config.database_url) as session:
        query = select(table).where(table.state.in_(states))
        return list(session.scalars(query))


def state_nodes(config: Config) -> set[str]:
    workspace = Workspace(config, config.account(ACCOUNT))
    with locks.account_lock(config, ACCOUNT):
        found: set[str] = set()
        for name in workspace.workspaces:
            found |= set(workspace.state_nodes(name))
        return found


def journal(config: Config) -> list[models.NodeJournal]:
    with engine.session_scope(config.database_url) as session:
        query = select(models.NodeJournal).order_by(models.NodeJournal.id)
        return list(session.scalars(query))


def node_map(config: Config) -> dict[str, models.NodeMap]:
    with engine.session_scope(config.database_url) as session:
        rows = session.scalars(select(models.NodeMap))
        return {row.name: row for row in rows}


def settled(config: Config) -> bool:
    """No request waits and Terraform state holds just the nodes up."""
    if requests(config, "pending", "running"):
        return False
    up = {n for n, r in node_map(config).items() if r.state == "up"}
    return state_nodes(config) == up


def assert_books_balance(config: Config) -> None:
    """Each node up has one open journal row; no other row is open."""
    up = {n for n, r in node_map(config).items() if r.state == "up"}
    open_rows = [j.node for j in journal(config) if j.ended_at is None]
    assert sorted(open_rows) == sorted(up)
    for row in journal(config):
        if row.ended_at is not None:
            assert row.cost is not None and row.end_reason


def test_instance_behind_our_back_is_reported_at_once_and_destroyed_after_grace(
    cloud: Cli,
) -> None:
    config = configuration.load(cloud.root)
    resume(config, A)
    assert cloud("service", "--start", SERVICE).code == 0, cloud.capsys

    with locks.account_lock(config, ACCOUNT):
        by_hand(config, ROGUE, "10.199.77.200")
        made_at = utcnow()  # the service cannot see it before the lock
    wait_for(
        lambda: f"unwanted: {ROGUE}" in service_log(cloud.root),
        "the service to report the rogue instance",
    )
    reported_in = service_log(cloud.root)
    wait_for(lambda: ROGUE not in records(config), "the rogue's removal", 60)
    stopped = cloud("service", "--stop", SERVICE)

    assert "destroy in" in reported_in
    with engine.session_scope(config.database_url) as session:
        removal = session.scalars(
            select(models.TerraformRun).where(
                models.TerraformRun.action == "remove"
            )
        ).one()
        assert removal.trigger == "reconcile"
        assert removal.nodes == ROGUE
        assert removal.started_at >= made_at + dt.timedelta(seconds=GRACE)
    assert records(config) == state_nodes(config) == {A}
    assert_books_balance(config)
    assert stopped.code == 0, stopped.err
    assert status_of(cloud, SERVICE)["state"] == "stopped"
    assert "stopped" in service_log(cloud.root).splitlines()[-1]


def _worker(root: Path) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "skyway.nodes", "work", ACCOUNT]
    return subprocess.Popen(
        [*argv, "--root", str(root)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _booting(root: Path, node: str) -> bool:
    events = root / "state" / "local-nodes" / "events.log"
    return events.exists() and f"up start {node}" in events.read_text()


def _group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.parametrize("victims", ["worker", "process-group"])
def test_worker_killed_mid_apply_converges_with_nothing_lost(
    cloud: Cli, victims: str
) -> None:
    """A up; one batch suspends A and resumes B; the worker dies while B
    boots. `worker` kills it alone (its provisioner lives on, as a cloud
    finishes a create it was asked for); `process-group` takes the
    provisioner with it, as losing the management host does."""
    config = configuration.load(cloud.root)
    resume(config, A)
    delay = config.state_dir / "local-boot-delay"
    delay.write_text("3")
    with engine.session_scope(config.database_url) as session:
        nodes.request(session, ACCOUNT, [A], "suspend", trigger="hook")
        nodes.request(session, ACCOUNT, [B], "resume", trigger="hook")

    worker = _worker(cloud.root)
    wait_for(lambda: _booting(cloud.root, B), "B to start booting")
    if victims == "worker":
        os.kill(worker.pid, signal.SIGKILL)
    else:
        os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()
    wait_for(lambda: _group_gone(worker.pid), "the worker's processes", 30)
    delay.unlink()
    in_flight = requests(config, "running")
    started = cloud("service", "--start", SERVICE)
    wait_for(lambda: settled(config), "the service to settle", 90)
    time.sleep(3)  # one more reconcile round must not undo anything
    stopped = cloud("service", "--stop", SERVICE)

    assert {r.node for r in in_flight} == {A, B}
    assert started.code == 0 and stopped.code == 0
    assert settled(config)
    assert A not in records(config)
    assert_books_balance(config)
    a_rows = [j for j in journal(config) if j.node == A]
    assert len(a_rows) == 1 and a_rows[0].ended_at is not None
    b_row = node_map(config)[B]
    if b_row.state == "up":  # the boot was carried through
        assert B in state_nodes(config) and b_row.instance_id
    else:  # the boot was given up: DOWN with why, nothing left behind
        assert b_row.state == "failed" and b_row.reason
        assert B not in state_nodes(config)
    # A provisioner that outlived its worker leaves an orphan that only
    # the vendor's list shows; one reconcile past the grace ends it.
    reconcile(config, ACCOUNT, grace=0, slurm=False)
    assert reconcile(config, ACCOUNT, grace=0, slurm=False).drift == []
    assert requests(config, "pending", "running") == []
    assert records(config) == state_nodes(config)
