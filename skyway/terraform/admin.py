"""Full plans and their applies, for admins: `skyway cloud --plan/--apply`.

A full plan covers every workspace of the account without `-target`; it
is saved and recorded like any run and applied later, after the admin
has read it, exactly as it was planned. Terraform refuses a saved plan
whose state has changed since, so a stale plan can never be applied.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from skyway.config import Config
from skyway.db import models
from skyway.errors import InputError, NotFoundError
from skyway.terraform import plan as plans
from skyway.terraform import runs
from skyway.terraform.runs import Run, plan_paths
from skyway.terraform.workspace import Workspace

log = logging.getLogger(__name__)
Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


def full_plan(
    session: Session,
    config: Config,
    account: str,
    desired: dict[str, dict[str, str]],
    who: str,
    progress: Progress = _quiet,
) -> Run:
    """Render, write the desired nodes, plan every workspace, record."""
    settings = config.account(account)
    workspace = Workspace(config, settings)
    run = runs.start(
        session,
        config,
        account,
        "plan",
        trigger="admin",
        triggered_by=who,
        nodes=",".join(sorted(desired)),
    )
    session.commit()
    try:
        progress(f"rendering workspace {workspace.path}")
        run.row.template_hash = workspace.prepare(run.log)
        summaries = []
        for name in workspace.workspaces:
            progress(f"planning workspace {name}")
            summaries.append(_plan_one(workspace, run, name, desired))
    except Exception as exc:
        runs.finish(session, run, "failed", exit_code=1, error=str(exc))
        session.commit()
        raise
    runs.finish(session, run, "planned", summary=plans.merge(summaries))
    session.commit()
    return run


def _plan_one(
    workspace: Workspace,
    run: Run,
    name: str,
    desired: dict[str, dict[str, str]],
) -> dict[str, Any]:
    mine = {
        node: entry
        for node, entry in desired.items()
        if workspace.workspace_of(node) == name
    }
    workspace.write_nodes(name, mine)
    plan_file, _ = plan_paths(run.dir, name)
    workspace.plan(name, plan_file, None, run.log)
    text = workspace.show_text(name, plan_file)
    run.save_plan(name, plan_file, text)
    plan = json.loads(text)
    label = "" if name == "default" else name
    return plans.summarize(plan, label)


def planned_run(
    session: Session, account: str, which: str
) -> models.TerraformRun:
    """The run `which` (an id, or `latest`) of the account, if planned."""
    table = models.TerraformRun
    if which == "latest":
        row = session.scalars(
            select(table)
            .where(table.account == account, table.action == "plan")
            .order_by(table.id.desc())
            .limit(1)
        ).first()
        if row is None:
            raise NotFoundError(
                f"no saved plan for {account}; run --plan first"
            )
    else:
        row = find_run(session, account, which)
    if row.action != "plan" or row.status != "planned":
        raise InputError(
            f"run {row.id} is a {row.action} run with status {row.status}; "
            "expected a saved plan that is not applied yet (see --history)"
        )
    return row


def find_run(session: Session, account: str, which: str) -> models.TerraformRun:
    """Run `which` of the account, or NotFoundError."""
    if not which.isdigit():
        raise InputError(f"expected a run number, got {which!r}")
    row = session.get(models.TerraformRun, int(which))
    if row is None or row.account != account:
        raise NotFoundError(
            f"no run {which} for account {account} (see --history)"
        )
    return row


def apply_saved(
    session: Session,
    config: Config,
    plan_row: models.TerraformRun,
    who: str,
    progress: Progress = _quiet,
) -> tuple[Run, dict[str, dict[str, str]]]:
    """Apply a planned run's saved plans; return the new run and outputs."""
    settings = config.account(plan_row.account)
    workspace = Workspace(config, settings)
    run = runs.start(
        session,
        config,
        plan_row.account,
        "apply",
        trigger="admin",
        triggered_by=who,
        nodes=plan_row.nodes,
        template_hash=plan_row.template_hash,
    )
    session.commit()
    run.row.plan_file = plan_row.plan_file
    run.row.plan_json = plan_row.plan_json
    run.log.note(f"applying the saved plan of run {plan_row.id}")
    outputs: dict[str, dict[str, str]] = {}
    errors = []
    for plan_file in plan_row.plan_file.splitlines():
        name = _workspace_of_plan(Path(plan_file))
        progress(f"applying workspace {name}")
        outcome, events = workspace.apply(name, Path(plan_file), run.log)
        outputs.update(events.outputs.get("nodes") or {})
        if not outcome.ok:
            errors.extend(events.errors or [outcome.stderr.strip()])
    plan_row.status = "failed" if errors else "applied"
    summary = {**plan_row.summary, "plan_run": plan_row.id}
    runs.finish(
        session,
        run,
        "failed" if errors else "applied",
        summary=summary,
        exit_code=1 if errors else 0,
        error="; ".join(errors),
    )
    return run, outputs


def _workspace_of_plan(path: Path) -> str:
    stem = path.stem
    return "default" if stem == "plan" else stem.removeprefix("plan-")
