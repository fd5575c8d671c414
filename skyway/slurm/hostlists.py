"""Slurm hostlists (`acct-c1-[001-004]`) in and out, and their names.

Expansion and compression use the python-hostlist library, the same
grammar `scontrol show hostnames` speaks, without a process per call.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import hostlist

from skyway import names
from skyway.config import Config
from skyway.errors import InputError

log = logging.getLogger(__name__)


def expand(text: str) -> list[str]:
    """Every name in a hostlist expression, in order, without repeats."""
    try:
        expanded = hostlist.expand_hostlist(text.strip())
    except hostlist.BadHostlist as exc:
        raise InputError(f"bad hostlist {text!r}: {exc}") from None
    return list(dict.fromkeys(expanded))


def compress(nodes: Iterable[str]) -> str:
    """The shortest hostlist expression for `nodes`."""
    return str(hostlist.collect_hostlist(sorted(set(nodes))))


@dataclass
class Grouping:
    """The nodes of one hostlist by account, and those refused."""

    by_account: dict[str, list[str]] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)


def group_by_account(
    nodes: Iterable[str], limits: Mapping[str, Mapping[str, int]]
) -> Grouping:
    """Sort node names into accounts; refuse hostile or unknown ones.

    `limits` maps each account to its node types and their maximum
    count, so that `acct-c1-099` is refused when the account has 4.
    """
    grouping = Grouping()
    for node in nodes:
        problem = _problem(node, limits)
        if problem:
            grouping.refused[node] = problem
            continue
        parts = names.split_node(node, limits)
        assert parts is not None
        grouping.by_account.setdefault(parts[0], []).append(node)
    return grouping


def _problem(node: str, limits: Mapping[str, Mapping[str, int]]) -> str:
    message = names.problem("node", node)
    if message:
        return message
    parts = names.split_node(node, limits)
    if parts is None:
        return f"node {node!r} belongs to no configured account"
    account, node_type, index = parts
    if node_type not in limits[account]:
        return f"account {account} has no node type {node_type!r}"
    if not 1 <= index <= limits[account][node_type]:
        limit = limits[account][node_type]
        return (
            f"node {node!r} is beyond account {account}'s {limit} "
            f"{node_type} nodes"
        )
    return ""


def account_limits(config: Config) -> dict[str, dict[str, int]]:
    """`{account: {type: max}}` of every configured account."""
    return {
        name: dict(account.nodes) for name, account in config.accounts.items()
    }
