"""Thin wrappers over scontrol, sinfo and squeue through the runner."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from skyway.runner import run

log = logging.getLogger(__name__)
TIMEOUT = 15


def update_node(node: str, **fields: str) -> None:
    """`scontrol update nodename=NODE key=value ...`."""
    pairs = [f"{key}={value}" for key, value in fields.items()]
    run(["scontrol", "update", f"nodename={node}", *pairs], timeout=TIMEOUT)


def set_address(node: str, address: str) -> None:
    """Tell slurmctld where a node is (or its placeholder when down)."""
    update_node(node, nodeaddr=address, nodehostname=node)


def set_down(node: str, reason: str) -> None:
    """Mark a node (or a hostlist) DOWN with a reason for `sinfo -R`."""
    update_node(node, state="down", reason=_one_line(reason))


def reconfigure() -> None:
    """Make slurmctld and every slurmd re-read slurm.conf."""
    run(["scontrol", "reconfigure"], timeout=60)


def ping() -> bool:
    """Whether the primary slurmctld answers."""
    result = run(["scontrol", "ping"], check=False, timeout=TIMEOUT)
    return result.returncode == 0 and "UP" in result.stdout


def node_states(nodes: Iterable[str] = ()) -> dict[str, str]:
    """`{node: state}` as sinfo shows it (`idle~`, `alloc#`, `down*` ...)."""
    argv = ["sinfo", "-h", "-N", "-o", "%N %t"]
    chosen = list(nodes)
    if chosen:
        argv += ["-n", ",".join(chosen)]
    result = run(argv, timeout=TIMEOUT)
    states = {}
    for line in result.stdout.splitlines():
        node, _, state = line.partition(" ")
        if node:
            states[node] = state.strip()
    return states


def node_reasons() -> dict[str, str]:
    """`{node: reason}` for every node with one, as `sinfo -R` shows."""
    result = run(["sinfo", "-h", "-R", "-N", "-o", "%N|%E"], timeout=TIMEOUT)
    reasons = {}
    for line in result.stdout.splitlines():
        node, _, reason = line.partition("|")
        reasons[node] = reason
    return reasons


def job_users(job_ids: Iterable[int]) -> dict[int, str]:
    """`{job id: user}` of jobs slurmctld still knows."""
    ids = sorted(set(job_ids))
    if not ids:
        return {}
    argv = ["squeue", "-h", "-j", ",".join(map(str, ids)), "-o", "%i %u"]
    result = run(argv, check=False, timeout=TIMEOUT)
    users = {}
    for line in result.stdout.splitlines():
        job, _, user = line.partition(" ")
        if job.isdigit() and user:
            users[int(job)] = user.strip()
    return users


def _one_line(text: str) -> str:
    return " ".join(text.split())[:200] or "skyway"
