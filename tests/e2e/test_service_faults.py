"""A boot that never registers, on the real Slurm (ResumeTimeout).

The node's boot outlasts Slurm's ResumeTimeout: slurmctld gives up, runs
the ResumeFailProgram, and Skyway must end with the node DOWN with a
reason, the instance destroyed, its journal closed, and nothing for the
reconciler to find.
"""

from __future__ import annotations

from sqlalchemy import select

from skyway import config as configuration
from skyway.db import engine, models
from skyway.reconcile import reconcile
from skyway.slurm import netns, scontrol
from skyway.slurm.lab import QUICK, Lab
from tests.e2e.conftest import ACCOUNT, node_state, wait_until

NODE = f"{ACCOUNT}-c1-003"


def _settled(lab: Lab) -> bool:
    """No request of the account waits and the node's row is final."""
    url = configuration.load(lab.root).database_url
    with engine.session_scope(url) as session:
        table = models.NodeRequest
        waiting = session.scalars(
            select(table.id).where(
                table.account == ACCOUNT,
                table.state.in_(("pending", "running")),
            )
        ).first()
        row = session.get(models.NodeMap, NODE)
        return (
            waiting is None
            and row is not None
            and row.state in ("failed", "idle")
            and NODE not in netns.running()
        )


def test_a_boot_that_never_registers_ends_down_with_nothing_left(
    lab: Lab,
) -> None:
    delay = lab.root / "state" / "local-boot-delay"
    delay.write_text(str(QUICK["resume_timeout"] + 15))
    job = ""
    try:
        out = lab.command(
            "sbatch",
            "--parsable",
            f"--account={ACCOUNT}",
            f"--partition={ACCOUNT}",
            f"--nodelist={NODE}",
            "--wrap",
            "true",
        )
        job = out.stdout.strip().split(";")[0]
        wait_until("Slurm to give up", lambda: "down" in node_state(NODE), 150)
        wait_until("Skyway to clean up", lambda: _settled(lab), 180)
    finally:
        delay.unlink(missing_ok=True)

    try:
        config = configuration.load(lab.root)
        reason = scontrol.node_reasons().get(NODE, "")
        with engine.session_scope(config.database_url) as session:
            row = session.get(models.NodeMap, NODE)
            table = models.NodeJournal
            lifetimes = list(
                session.scalars(select(table).where(table.node == NODE))
            )
        report = reconcile(config, ACCOUNT, grace=0)

        assert "down" in node_state(NODE)
        assert reason
        assert row is not None and row.state == "failed"
        assert row.instance_id is None and row.reason
        assert NODE not in netns.running()
        assert all(j.ended_at is not None for j in lifetimes)
        assert "slurm" in report.views
        assert [d for d in report.drift if d.node == NODE] == []
    finally:
        if job:
            lab.command("scancel", job, check=False)
        lab.command(
            "scontrol",
            "update",
            f"nodename={NODE}",
            "state=resume",
            check=False,
        )
