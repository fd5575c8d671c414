"""The burst loop against the real Slurm: jobs on nodes that did not exist.

Each test pins its own nodes (`-w`) so that the tests of one session do
not take each other's nodes.
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager

from sqlalchemy import select
from sqlalchemy.orm import Session

from skyway import config as configuration
from skyway.db import engine, models
from skyway.slurm import netns, scontrol
from skyway.slurm.lab import Lab
from tests.e2e.conftest import (
    ACCOUNT,
    hooks_log,
    job_state,
    node_state,
    reset_node,
    wait_until,
)


def _submit(lab: Lab, node: str, *extra: str, script: str = "true") -> str:
    out = lab.command(
        "sbatch",
        "--parsable",
        f"--account={ACCOUNT}",
        f"--partition={ACCOUNT}",
        f"--nodelist={node}",
        f"--output={lab.folder}/job-%j.out",
        *extra,
        "--wrap",
        script,
    )
    return out.stdout.strip().split(";")[0]


def _session(lab: Lab) -> AbstractContextManager[Session]:
    url = configuration.load(lab.root).database_url
    return engine.session_scope(url)


def _journal(lab: Lab, node: str) -> list[models.NodeJournal]:
    with _session(lab) as session:
        table = models.NodeJournal
        query = select(table).where(table.node == node).order_by(table.id)
        return list(session.scalars(query))


def _node_row(lab: Lab, node: str) -> models.NodeMap | None:
    with _session(lab) as session:
        return session.get(models.NodeMap, node)


def _db_state(lab: Lab, node: str) -> str:
    row = _node_row(lab, node)
    return row.state if row is not None else ""


def _requested(lab: Lab, node: str, action: str) -> bool:
    """Whether a hook queued `action` for `node`."""
    with _session(lab) as session:
        table = models.NodeRequest
        query = select(table.id).where(
            table.node == node, table.action == action
        )
        return session.scalars(query).first() is not None


def _runs(lab: Lab) -> list[models.TerraformRun]:
    with _session(lab) as session:
        table = models.TerraformRun
        return list(session.scalars(select(table).order_by(table.id)))


def test_batch_job_bursts_and_the_node_goes_away(lab: Lab) -> None:
    node = f"{ACCOUNT}-c1-001"
    job = _submit(
        lab, node, "--constraint=c1", script="echo ran on $SLURMD_NODENAME"
    )

    wait_until(
        "the job to complete", lambda: job_state(lab, job) == "COMPLETED"
    )
    output = (lab.folder / f"job-{job}.out").read_text()
    assert f"ran on {node}" in output
    # A second job lands on the node while it is still up: no resume
    # names it, and the journal learns of it from sacct as the node goes.
    again = _submit(lab, node, script="true")
    wait_until("the second job", lambda: job_state(lab, again) == "COMPLETED")
    wait_until("the node to power down", lambda: node_state(node) == "idle~")
    wait_until("node_map to say idle", lambda: _db_state(lab, node) == "idle")

    rows = _journal(lab, node)
    assert len(rows) == 1
    assert rows[0].jobs.split(",") == [job, again]
    assert rows[0].users == "root"
    assert rows[0].ended_at is not None and rows[0].cost is not None
    runs = [r for r in _runs(lab) if r.nodes == node]
    assert [r.action for r in runs] == ["resume", "suspend"]
    assert all(r.status == "applied" and r.trigger == "hook" for r in runs)
    assert node not in netns.running()
    address = lab.command("scontrol", "show", "node", node).stdout
    assert "NodeAddr=127.0.0.1 " in address


def test_sinteractive_opens_a_shell_on_a_cloud_node(lab: Lab) -> None:
    import pty
    import subprocess

    node = f"{ACCOUNT}-c2-001"
    argv = [
        "sinteractive",
        "-A",
        ACCOUNT,
        "--constraint=c2",
        "-t",
        "5",
        f"--nodelist={node}",
    ]
    leader, follower = pty.openpty()
    env = {**os.environ, **lab.env, "SHELL": "/bin/bash", "PS1": "$ "}
    shell = subprocess.Popen(  # noqa: S603 - an argument list
        argv, stdin=follower, stdout=follower, stderr=follower, env=env
    )
    os.close(follower)
    seen = _Screen(leader)
    try:
        seen.wait_for("sinteractive: demo-local c2")
        wait_until("the step to run", lambda: _running_on(lab, node), 150)
        os.write(leader, b"echo PTY-OK on $SLURMD_NODENAME\n")
        seen.wait_for(f"PTY-OK on {node}")
        os.write(leader, b"exit\n")
        assert shell.wait(timeout=60) == 0
    finally:
        if shell.poll() is None:
            shell.kill()
        os.close(leader)
    assert "$2.5000/h × 0.08 h" in seen.text


class _Screen:
    """What a pty shows, read as it comes."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.text = ""

    def wait_for(self, needle: str, timeout: float = 150) -> None:
        import select as io

        def arrived() -> bool:
            ready, _, _ = io.select([self.fd], [], [], 0.2)
            if ready:
                try:
                    self.text += os.read(self.fd, 4096).decode(errors="replace")
                except OSError:
                    return needle in self.text
            return needle in self.text

        wait_until(f"{needle!r} on the pty", arrived, timeout)


def _running_on(lab: Lab, node: str) -> bool:
    out = lab.command("squeue", "-h", "-w", node, "-o", "%T").stdout
    return "RUNNING" in out


def test_squeue_and_scancel_while_a_node_powers_up(lab: Lab) -> None:
    node = f"{ACCOUNT}-c1-002"
    job = _submit(lab, node, script="sleep 30")
    wait_until("the node to power up", lambda: "#" in node_state(node))

    mine = lab.command("squeue", "-h", "-u", "root", "-o", "%i %T", timeout=10)
    assert f"{job} CONFIGURING" in mine.stdout
    lab.command("scancel", job, timeout=10)
    listed = lab.command("squeue", "-h", "-o", "%i", timeout=10).stdout

    assert job not in listed.split()
    # slurmdbd hears of the cancel a moment after slurmctld acts on it
    wait_until("sacct to say CANCELLED", lambda: _cancelled(lab, job), 30)


def _cancelled(lab: Lab, job: str) -> bool:
    return job_state(lab, job) == "CANCELLED"


def test_failed_boot_leaves_the_node_down_and_the_job_pending(
    lab: Lab,
) -> None:
    node = f"{ACCOUNT}-c1-004"
    flag = lab.root / "state" / "fail-boot" / node
    flag.parent.mkdir(parents=True, exist_ok=True)
    flag.touch()
    try:
        job = _submit(lab, node)
        wait_until("the node to go down", lambda: "down" in node_state(node))
        reasons = scontrol.node_reasons()
        assert "skyway" in reasons[node]
        wait_until("the job to be pending", lambda: _pending(lab, job))
        row = _node_row(lab, node)
        assert row is not None and row.state == "failed"
        assert row.instance_id is None
        assert node not in netns.running()
        lab.command("scancel", job)
    finally:
        flag.unlink()
        reset_node(lab, node)


def _pending(lab: Lab, job: str) -> bool:
    out = lab.command("squeue", "-h", "-j", job, "-o", "%T", check=False)
    return out.stdout.strip() == "PENDING"


def test_boot_past_resume_timeout_ends_through_resume_fail(lab: Lab) -> None:
    node = f"{ACCOUNT}-c1-003"
    settings = configuration.load(lab.root).settings.slurm
    delay = lab.root / "state" / "local-boot-delay"
    delay.write_text(str(settings.resume_timeout + 25))
    try:
        job = _submit(lab, node)
        wait_until(
            "ResumeFailProgram",
            lambda: _requested(lab, node, "fail"),
            settings.resume_timeout + 60,
        )
    finally:
        delay.unlink()
    wait_until(
        "the failed node to be destroyed",
        lambda: _db_state(lab, node) == "failed",
        120,
    )
    wait_until("its namespace to go", lambda: node not in netns.running())
    assert "down" in node_state(node)
    assert "ResumeTimeout" in scontrol.node_reasons()[node]
    rows = _journal(lab, node)
    assert rows and rows[-1].ended_at is not None
    assert rows[-1].end_reason.startswith("did not register")
    assert _pending(lab, job)
    lab.command("scancel", job)
    reset_node(lab, node)


def test_rate_cap_sets_the_node_down_with_the_cap(lab: Lab) -> None:
    node = f"{ACCOUNT}-c2-002"
    _set_rate(lab, "0.5")
    try:
        job = _submit(lab, node)
        wait_until("the node to go down", lambda: "down" in node_state(node))
        assert "rate cap $0.50/h" in scontrol.node_reasons()[node]
        lab.command("scancel", job)
    finally:
        _set_rate(lab, "10")
        reset_node(lab, node)


def _set_rate(lab: Lab, rate: str) -> None:
    """`skyway billing --set`; its mail to admins may fail here."""
    from decimal import Decimal

    lab.skyway("billing", ACCOUNT, "--set", f"rate={rate}", check=False)
    with _session(lab) as session:
        budget = session.get(models.Budget, ACCOUNT)
        assert budget is not None and budget.rate == Decimal(rate)


def test_hook_refuses_hostile_names_and_serves_the_rest(lab: Lab) -> None:
    hostlist = f"{ACCOUNT}-c1-001,../etc,x;y,{ACCOUNT}-c9-001,nosuch-c1-001"
    env = {**lab.env, "SKYWAY_HOOK_FOREGROUND": "1"}
    hook = lab.root / "state" / "slurm" / "bin" / "skyway-suspend"

    result = lab.command(str(hook), hostlist, check=False)
    assert result.returncode == 0  # detached: slurmctld never waits
    from skyway.runner import run

    result = run([str(hook), hostlist], env=env, check=False)

    assert result.returncode == 2
    text = hooks_log(lab)
    assert "refused node '../etc': invalid node name" in text
    assert "refused node 'x;y': invalid node name" in text
    assert f"refused node '{ACCOUNT}-c9-001': account {ACCOUNT} has no" in text
    assert "refused node 'nosuch-c1-001': node 'nosuch-c1-001' belongs" in text
    assert f"suspend queued for {ACCOUNT}: ['{ACCOUNT}-c1-001']" in text
