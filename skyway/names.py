"""Validation of every name that may reach Terraform, Slurm or a path.

Names are checked against strict patterns before they are used anywhere,
so that `a;b`, `$(x)` or `../x` can never become part of a command line,
a file name or a Terraform address.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from skyway.errors import InputError

ACCOUNT_RE = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
NODE_TYPE_RE = re.compile(r"[a-z][a-z0-9]*")
USER_RE = re.compile(r"[a-z_][a-z0-9_.]*(?:-[a-z0-9_.]+)*")
NODE_RE = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
MAX_ACCOUNT = 40
MAX_NODE_TYPE = 16
MAX_USER = 32
MAX_NODE = 63
NODE_INDEX_DIGITS = 3

_RULES = {
    "account": (ACCOUNT_RE, MAX_ACCOUNT, "lower-case letters, digits, '-'"),
    "node type": (NODE_TYPE_RE, MAX_NODE_TYPE, "lower-case letters, digits"),
    "user": (USER_RE, MAX_USER, "lower-case letters, digits, '_.-'"),
    "node": (NODE_RE, MAX_NODE, "lower-case letters, digits, '-'"),
}


def problem(kind: str, name: object) -> str | None:
    """Say what is wrong with `name` as a `kind`, or None if it is fine."""
    pattern, limit, allowed = _RULES[kind]
    if not isinstance(name, str):
        return f"expected a {kind} name as text, got {name!r}"
    if not name:
        return f"expected a {kind} name, got an empty one"
    if len(name) > limit:
        return f"{kind} name is {len(name)} characters; at most {limit}"
    if not pattern.fullmatch(name):
        return (
            f"invalid {kind} name {name!r}: expected {allowed}, "
            "starting with a letter"
        )
    return None


def check(kind: str, name: object) -> str:
    """Return `name` if it is a valid `kind` name, else raise InputError."""
    message = problem(kind, name)
    if message:
        raise InputError(message)
    assert isinstance(name, str)
    return name


def node_name(account: str, node_type: str, index: int) -> str:
    """The Slurm name of the `index`-th node of a type in an account."""
    return f"{account}-{node_type}-{index:0{NODE_INDEX_DIGITS}d}"


def split_node(
    name: str, accounts: Iterable[str]
) -> tuple[str, str, int] | None:
    """Split `name` into (account, node type, index), or None.

    The account is the longest configured prefix, never a guess from
    splitting on '-', because account names contain dashes themselves.
    """
    if problem("node", name):
        return None
    for account in sorted(accounts, key=len, reverse=True):
        prefix = account + "-"
        if not name.startswith(prefix):
            continue
        node_type, dash, index = name[len(prefix) :].rpartition("-")
        if dash and NODE_TYPE_RE.fullmatch(node_type) and index.isdigit():
            return account, node_type, int(index)
    return None
