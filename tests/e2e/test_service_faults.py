"""The reconciler against the real Slurm: an instance gone behind its back.

A job runs on a cloud node; the node's instance is then destroyed by
hand, outside Skyway, while Slurm still counts the node allocated.
`skyway misc.nodes --update` must find it, set it DOWN in Slurm with the
reason, and close its journal row. (A boot that outlasts ResumeTimeout
is `test_burst.py::test_boot_past_resume_timeout_ends_through_resume_fail`.)
"""

from __future__ import annotations

from sqlalchemy import select

from skyway import config as configuration
from skyway import locks
from skyway.db import engine, models
from skyway.slurm import netns, scontrol
from skyway.slurm.lab import Lab
from tests.e2e.conftest import ACCOUNT, node_state, wait_until
from tests.test_reconcile import by_hand

NODE = f"{ACCOUNT}-c1-004"


def _row(lab: Lab) -> models.NodeMap | None:
    url = configuration.load(lab.root).database_url
    with engine.session_scope(url) as session:
        return session.get(models.NodeMap, NODE)


def _journal(lab: Lab) -> list[models.NodeJournal]:
    url = configuration.load(lab.root).database_url
    with engine.session_scope(url) as session:
        table = models.NodeJournal
        query = select(table).where(table.node == NODE).order_by(table.id)
        return list(session.scalars(query))


def _running(lab: Lab, job: str) -> bool:
    out = lab.command("squeue", "-h", "-j", job, "-o", "%T", check=False)
    return out.stdout.strip() == "RUNNING"


def test_instance_gone_under_a_running_job_goes_down_with_a_reason(
    lab: Lab,
) -> None:
    wait_until("the node to be powered down", lambda: "~" in node_state(NODE))
    out = lab.command(
        "sbatch",
        "--parsable",
        f"--account={ACCOUNT}",
        f"--partition={ACCOUNT}",
        f"--nodelist={NODE}",
        f"--output={lab.folder}/job-%j.out",
        "--wrap",
        "sleep 600",
    )
    job = out.stdout.strip().split(";")[0]
    try:
        wait_until("the job to run", lambda: _running(lab, job), 150)
        config = configuration.load(lab.root)
        with locks.account_lock(config, ACCOUNT):
            by_hand(config, NODE, None)
        slurm_before = node_state(NODE)

        report = lab.skyway("misc.nodes", "--update", "-A", ACCOUNT)

        row = _row(lab)
        lifetimes = _journal(lab)
        assert "~" not in slurm_before and "down" not in slurm_before
        assert "views node_map, slurm, terraform, vendor" in report
        line = next(x for x in report.splitlines() if NODE in x)
        assert "gone" in line and "DOWN and journal closed" in line
        assert "down" in node_state(NODE)
        assert "reconciler" in scontrol.node_reasons().get(NODE, "")
        assert row is not None and row.state == "failed"
        assert row.instance_id is None
        assert NODE not in netns.running()
        assert lifetimes and lifetimes[-1].ended_at is not None
        assert lifetimes[-1].end_reason.startswith("reconciler")
        again = lab.skyway("misc.nodes", "--update", "-A", ACCOUNT)
        drift = again.split("\n\n", 1)[0]  # the node map follows
        assert NODE not in drift
    finally:
        lab.command("scancel", job, check=False)
        lab.command(
            "scontrol",
            "update",
            f"nodename={NODE}",
            "state=resume",
            check=False,
        )
