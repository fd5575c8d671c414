"""The audit trail: one database row and one folder per Terraform run.

A run's folder, `state/runs/<account>/<id>/`, holds the saved plan
(`plan.tfplan`, or `plan-<workspace>.tfplan` per workspace of a large
account), its `show -json` (`plan.json`, `plan-<workspace>.json`) and
`log.txt`, every Terraform command with its output. The `tf_run` row
says who or what asked, which nodes, the template hash, the summary,
the exit code and how long it took.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from skyway.config import Config
from skyway.db import models
from skyway.terraform.engine import Outcome


class RunLog:
    """log.txt of a run: each command, its output and its exit code."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()

    def add(self, outcome: Outcome) -> None:
        with self.path.open("a", encoding="utf-8") as out:
            out.write(f"$ {' '.join(outcome.argv)}\n")
            if outcome.stdout:
                out.write(outcome.stdout.rstrip("\n") + "\n")
            if outcome.stderr:
                out.write(outcome.stderr.rstrip("\n") + "\n")
            out.write(
                f"# exit {outcome.returncode} in {outcome.seconds:.3f} s\n\n"
            )

    def note(self, text: str) -> None:
        with self.path.open("a", encoding="utf-8") as out:
            out.write(f"# {text}\n")


def plan_paths(run_dir: Path, workspace: str) -> tuple[Path, Path]:
    """Where a run keeps the saved plan and its JSON for a workspace."""
    stem = "plan" if workspace == "default" else f"plan-{workspace}"
    return run_dir / f"{stem}.tfplan", run_dir / f"{stem}.json"


class Run:
    """A run being recorded: its row, its folder and its log."""

    def __init__(self, row: models.TerraformRun, run_dir: Path) -> None:
        self.row = row
        self.dir = run_dir
        self.log = RunLog(run_dir / "log.txt")
        self.started = time.perf_counter()
        self.plans: list[tuple[str, Path, Path]] = []

    @property
    def id(self) -> int:
        return self.row.id

    def save_plan(self, workspace: str, plan_file: Path, text: str) -> Path:
        """Keep `show -json` of a saved plan, as Terraform wrote it."""
        _, json_file = plan_paths(self.dir, workspace)
        json_file.write_text(text.rstrip("\n") + "\n")
        self.plans.append((workspace, plan_file, json_file))
        self.row.plan_file = "\n".join(str(p[1]) for p in self.plans)
        self.row.plan_json = "\n".join(str(p[2]) for p in self.plans)
        return json_file


def start(
    session: Session,
    config: Config,
    account: str,
    action: str,
    *,
    trigger: str,
    triggered_by: str = "",
    jobs: str = "",
    nodes: str = "",
    template_hash: str = "",
) -> Run:
    """Add the run's row (status planning) and create its folder.

    The caller commits, before Terraform starts, so that the run is on
    record even if the process dies during it.
    """
    row = models.TerraformRun(
        account=account,
        action=action,
        trigger=trigger[:32],
        triggered_by=triggered_by[:64],
        jobs=jobs,
        nodes=nodes,
        template_hash=template_hash,
        status="planning",
    )
    session.add(row)
    session.flush()
    run_dir = config.state_dir / "runs" / account / str(row.id)
    run_dir.mkdir(parents=True, exist_ok=True)
    row.run_dir = str(run_dir)
    row.log_file = str(run_dir / "log.txt")
    return Run(row, run_dir)


def finish(
    session: Session,
    run: Run,
    status: str,
    *,
    summary: dict[str, Any] | None = None,
    exit_code: int = 0,
    error: str = "",
) -> None:
    """Close the run's row with its outcome and duration (caller commits)."""
    row = run.row
    if summary is not None:
        row.summary = summary
    row.status = status
    row.exit_code = exit_code
    row.error = error[:4000]
    row.finished_at = models.utcnow()
    row.duration = round(time.perf_counter() - run.started, 3)
    session.add(row)


def prune(session: Session, config: Config, account: str) -> list[int]:
    """Remove the folders of runs older than `keep_run_files_days`.

    The rows stay: who, what, the summary and the outcome remain on
    record; only the saved plans, their JSON and the logs go. A run
    still waiting for `--apply` keeps its folder. Returns the runs
    whose folder went.
    """
    import shutil

    days = config.settings.terraform.keep_run_files_days
    if days is None:
        return []
    cutoff = models.utcnow() - dt.timedelta(days=days)
    table = models.TerraformRun
    rows = session.scalars(
        select(table).where(
            table.account == account,
            table.started_at < cutoff,
            table.status != "planned",
        )
    )
    root = (config.state_dir / "runs" / account).resolve()
    pruned = []
    for row in rows:
        folder = Path(row.run_dir or "")
        if not row.run_dir or not folder.is_dir():
            continue
        if folder.resolve().parent != root:  # never outside the runs
            continue
        shutil.rmtree(folder)
        pruned.append(row.id)
    return pruned


def files_kept(row: models.TerraformRun) -> bool:
    """Whether the run's folder is still there (not pruned)."""
    return bool(row.run_dir) and Path(row.run_dir).is_dir()


def started_at(row: models.TerraformRun) -> str:
    """The run's start as admins read it (UTC, to the second)."""
    stamp: dt.datetime = row.started_at
    return stamp.strftime("%Y-%m-%d %H:%M:%S")


def history(session: Session, account: str) -> list[tuple[Any, ...]]:
    """One line per run of the account, oldest first."""
    table = models.TerraformRun
    rows = session.scalars(
        select(table).where(table.account == account).order_by(table.id)
    )
    return [
        (
            row.id,
            started_at(row),
            row.action,
            row.trigger,
            row.triggered_by or "-",
            _short(row.nodes),
            _changes(row.summary or {}),
            row.status,
            "-" if row.exit_code is None else row.exit_code,
            "-" if row.duration is None else f"{float(row.duration):.2f}",
        )
        for row in rows
    ]


def _short(nodes: str, limit: int = 40) -> str:
    if len(nodes) <= limit:
        return nodes or "-"
    count = nodes.count(",") + 1
    return nodes[: limit - 12].rsplit(",", 1)[0] + f",… ({count})"


def _changes(summary: dict[str, Any]) -> str:
    return (
        f"+{summary.get('add', 0)} ~{summary.get('change', 0)} "
        f"-{summary.get('destroy', 0)}"
    )
