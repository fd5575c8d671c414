"""Reading what Terraform says: plan JSON, apply event streams, state."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

CHANGE_ACTIONS = ("create", "update", "delete")


def summarize(plan: dict[str, Any], workspace: str = "") -> dict[str, Any]:
    """Adds, changes and destroys of a `show -json` plan, per resource."""
    resources = []
    counts = {"add": 0, "change": 0, "destroy": 0}
    for change in plan.get("resource_changes") or []:
        actions = list(change.get("change", {}).get("actions", []))
        if not set(actions) & set(CHANGE_ACTIONS):
            continue
        counts["add"] += "create" in actions
        counts["change"] += "update" in actions
        counts["destroy"] += "delete" in actions
        entry = {"address": change.get("address", ""), "actions": actions}
        if workspace:
            entry["workspace"] = workspace
        resources.append(entry)
    return {**counts, "resources": resources}


def merge(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    """One summary out of the summaries of several workspaces."""
    total: dict[str, Any] = {"add": 0, "change": 0, "destroy": 0}
    resources: list[dict[str, Any]] = []
    for summary in summaries:
        for key in ("add", "change", "destroy"):
            total[key] += summary.get(key, 0)
        resources.extend(summary.get("resources", []))
    return {**total, "resources": resources}


def describe(summary: dict[str, Any]) -> str:
    """`2 to add, 0 to change, 1 to destroy`, as Terraform says it."""
    return (
        f"{summary.get('add', 0)} to add, {summary.get('change', 0)} to "
        f"change, {summary.get('destroy', 0)} to destroy"
    )


@dataclass
class ApplyEvents:
    """What an `apply -json` event stream reported."""

    outputs: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    failed: set[str] = field(default_factory=set)
    completed: set[str] = field(default_factory=set)


def read_events(stream: str) -> ApplyEvents:
    """Parse the JSON lines of `plan -json` or `apply -json`."""
    events = ApplyEvents()
    for line in stream.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            _take(events, event)
    return events


def _take(events: ApplyEvents, event: dict[str, Any]) -> None:
    kind = event.get("type")
    hook = event.get("hook") or {}
    address = (hook.get("resource") or {}).get("addr", "")
    if kind == "outputs":
        for name, output in (event.get("outputs") or {}).items():
            events.outputs[name] = output.get("value")
    elif kind == "apply_errored" or kind == "provision_errored":
        events.failed.add(address)
    elif kind == "apply_complete":
        events.completed.add(address)
    elif kind == "diagnostic":
        diag = event.get("diagnostic") or {}
        if diag.get("severity") == "error":
            text = diag.get("summary", "")
            detail = (diag.get("detail") or "").strip()
            where = diag.get("address", "")
            message = f"{where}: {text}" if where else text
            events.errors.append(f"{message}: {detail}" if detail else message)


def node_of(address: str) -> str | None:
    """The node in `module.node.<type>.<name>["acct-c1-001"]`, or None."""
    if not address.startswith("module.node.") or not address.endswith('"]'):
        return None
    start = address.rfind('["')
    return address[start + 2 : -2] if start > 0 else None


def state_nodes(
    state: dict[str, Any], primary: str
) -> dict[str, dict[str, Any]]:
    """Per node in a `show -json` state: its `primary` resource's id,
    whether it is tainted, and its values."""
    nodes: dict[str, dict[str, Any]] = {}
    root = (state.get("values") or {}).get("root_module") or {}
    for module in root.get("child_modules") or []:
        for resource in module.get("resources") or []:
            address = resource.get("address", "")
            name = node_of(address)
            kind = f"{resource.get('type')}.{resource.get('name')}"
            if name is None or kind != primary:
                continue
            values = resource.get("values") or {}
            nodes[name] = {
                "id": _instance_id(values),
                "tainted": bool(resource.get("tainted")),
                "type": resource.get("type", ""),
                "values": values,
            }
    return nodes


def _instance_id(values: dict[str, Any]) -> str:
    return str(values.get("id") or values.get("instance_id") or "")
