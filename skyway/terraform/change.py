"""Apply one change of an account's desired nodes with targeted runs.

For each workspace the change touches: write its nodes file, plan with
`-target` on the changed nodes into the run's folder, save `show -json`
of the plan, apply exactly that saved plan, and read back what exists.
A failed apply leaves no half-state behind: nodes that did not come up
leave the nodes file, and what Terraform created of them is destroyed
in the same run.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from skyway.errors import CommandError
from skyway.terraform import plan as plans
from skyway.terraform.runs import Run, plan_paths
from skyway.terraform.workspace import Workspace

log = logging.getLogger(__name__)
Entry = dict[str, str]


@dataclass
class ChangeResult:
    """Per node: up (with instance id and address), gone, or failed."""

    up: dict[str, dict[str, str]] = field(default_factory=dict)
    gone: set[str] = field(default_factory=set)
    failed: dict[str, str] = field(default_factory=dict)
    summaries: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def summary(self) -> dict[str, Any]:
        return plans.merge(self.summaries)

    @property
    def exit_code(self) -> int:
        return 1 if self.errors else 0


def apply_change(
    workspace: Workspace, run: Run, wanted: dict[str, Entry | None]
) -> ChangeResult:
    """Make each node of `wanted` run (an entry) or not run (None)."""
    result = ChangeResult()
    groups: dict[str, dict[str, Entry | None]] = defaultdict(dict)
    for node, entry in wanted.items():
        groups[workspace.workspace_of(node)][node] = entry
    for name in sorted(groups):
        _one_workspace(workspace, run, name, groups[name], result)
    return result


def _one_workspace(
    workspace: Workspace,
    run: Run,
    name: str,
    wanted: dict[str, Entry | None],
    result: ChangeResult,
) -> None:
    before = workspace.read_nodes(name)
    after = dict(before)
    for node, entry in wanted.items():
        if entry is None:
            after.pop(node, None)
        else:
            after[node] = entry
    workspace.write_nodes(name, after)
    targets = sorted(wanted)
    try:
        events = _plan_and_apply(workspace, run, name, targets, result)
    except CommandError as exc:
        workspace.write_nodes(name, before)
        _fail_all(result, wanted, exc.stderr or str(exc))
        return
    if events.errors:
        _after_failure(workspace, run, name, wanted, events, result)
        return
    outputs = events.outputs.get("nodes") or {}
    for node, entry in wanted.items():
        if entry is None:
            result.gone.add(node)
        elif node in outputs:
            result.up[node] = {k: str(v) for k, v in outputs[node].items()}
        else:
            result.failed[node] = "no output after a successful apply"


def _plan_and_apply(
    workspace: Workspace,
    run: Run,
    name: str,
    targets: list[str],
    result: ChangeResult,
) -> plans.ApplyEvents:
    plan_file, _ = plan_paths(run.dir, name)
    workspace.plan(name, plan_file, targets, run.log)
    text = workspace.show_text(name, plan_file)
    run.save_plan(name, plan_file, text)
    plan = json.loads(text)
    result.summaries.append(plans.summarize(plan, _label(workspace, name)))
    _outcome, events = workspace.apply(name, plan_file, run.log)
    if not _outcome.ok and not events.errors:
        events.errors.append(_outcome.stderr.strip() or "apply failed")
    return events


def _label(workspace: Workspace, name: str) -> str:
    return "" if workspace.workspaces == ["default"] else name


def _fail_all(
    result: ChangeResult, wanted: dict[str, Entry | None], error: str
) -> None:
    result.errors.append(error)
    for node in wanted:
        result.failed[node] = error


def _after_failure(
    workspace: Workspace,
    run: Run,
    name: str,
    wanted: dict[str, Entry | None],
    events: plans.ApplyEvents,
    result: ChangeResult,
) -> None:
    """Sort out what exists after a failed apply; destroy broken nodes."""
    error = "; ".join(events.errors)
    result.errors.append(error)
    state = workspace.state_nodes(name)
    broken = []
    for node, entry in wanted.items():
        found = state.get(node)
        healthy = found is not None and not found["tainted"]
        if entry is None:
            if found is None:
                result.gone.add(node)
            else:
                result.failed[node] = f"destroy failed: {_for(node, events)}"
        elif healthy:
            assert found is not None
            result.up[node] = _from_state(found)
        else:
            result.failed[node] = f"create failed: {_for(node, events)}"
            broken.append(node)
    if broken:
        _clean_up(workspace, run, name, broken)


def _for(node: str, events: plans.ApplyEvents) -> str:
    mine = [e for e in events.errors if f'["{node}"]' in e]
    return "; ".join(mine or events.errors)


def _from_state(found: dict[str, Any]) -> dict[str, str]:
    output = found["values"].get("output") or {}
    return {"id": found["id"], "address": str(output.get("address", ""))}


def _clean_up(
    workspace: Workspace, run: Run, name: str, broken: list[str]
) -> None:
    """Drop nodes that failed to come up and destroy what is left."""
    nodes = workspace.read_nodes(name)
    for node in broken:
        nodes.pop(node, None)
    workspace.write_nodes(name, nodes)
    run.log.note(f"cleaning up after the failed apply: {', '.join(broken)}")
    plan_file = run.dir / f"cleanup-{name}.tfplan"
    try:
        workspace.plan(name, plan_file, broken, run.log)
        workspace.apply(name, plan_file, run.log)
    except CommandError as exc:
        log.error("clean-up of %s failed: %s", ", ".join(broken), exc)
