"""The vendor's instances beside Skyway's node map, and ssh to nodes.

What `skyway cloud ACCOUNT --ls`, `--rm` and `--connect` need: which
instances Skyway knows, which it does not, which are gone, and how to
reach a node.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from skyway import names
from skyway.config import Account, Config
from skyway.db import models
from skyway.errors import InputError

UP_STATES = ("resuming", "up")
SSH_CONNECT_TIMEOUT = 15  # seconds: an unreachable node fails fast


@dataclass(frozen=True)
class InstanceRow:
    """One line of `skyway cloud ACCOUNT --ls`."""

    instance: str
    node: str
    vendor_state: str
    address: str
    node_map: str
    note: str


def compare_instances(
    session: Session, account: str, seen: Iterable[Any]
) -> list[InstanceRow]:
    """The vendor's instances beside node_map, with what disagrees."""
    known = {
        row.instance_id: row
        for row in session.scalars(
            select(models.NodeMap).where(
                models.NodeMap.account == account,
                models.NodeMap.instance_id.is_not(None),
            )
        )
    }
    rows = []
    for instance in seen:
        row = known.pop(instance.id, None)
        note = "" if row is not None else "unknown to Skyway"
        rows.append(
            InstanceRow(
                instance.id,
                instance.node or "-",
                instance.state,
                instance.address or "-",
                row.state if row is not None else "-",
                note,
            )
        )
    for instance_id, row in sorted(known.items()):
        if row.state in UP_STATES:
            rows.append(
                InstanceRow(
                    instance_id or "-",
                    row.name,
                    "-",
                    row.address or "-",
                    row.state,
                    "instance gone",
                )
            )
    return rows


def managed_node(session: Session, account: str, instance: str) -> str | None:
    """The node of `account` whose instance is `instance`, if any."""
    return session.scalars(
        select(models.NodeMap.name).where(
            models.NodeMap.account == account,
            models.NodeMap.instance_id == instance,
        )
    ).first()


def journal_unmanaged(
    session: Session, account: str, instance: Any, who: str
) -> None:
    """A journal row for an instance Skyway did not manage, terminated."""
    now = models.utcnow()
    session.add(
        models.NodeJournal(
            node=instance.node or "-",
            account=account,
            node_type=instance.node_type or "",
            instance_id=instance.id,
            price=Decimal(0),
            started_at=now,
            ended_at=now,
            cost=Decimal(0),
            end_reason=f"unmanaged instance terminated by {who}",
        )
    )


def refresh_instances(
    session: Session, account: str, outputs: dict[str, dict[str, str]]
) -> None:
    """After a full apply: instance ids and addresses from the outputs."""
    for node, out in outputs.items():
        row = session.get(models.NodeMap, node)
        if row is None or row.account != account:
            continue
        if row.state in UP_STATES:
            row.instance_id = out.get("id") or row.instance_id
            row.address = out.get("address") or row.address


def ssh_argv(
    config: Config, session: Session, account: Account, node: str
) -> list[str]:
    """ssh to a node of the account, static or cloud, as its login user."""
    names.check("node", node)
    vendor = config.vendors[account.vendor]
    user = vendor.login_user
    static = account.static_nodes.get(node)
    if static is not None:
        address = static.address
        user = static.login_user or user
    else:
        if names.split_node(node, [account.name]) is None:
            raise InputError(
                f"node {node!r} is not a node of account {account.name}; "
                f"expected {account.name}-<type>-<NNN> or a static node"
            )
        row = session.get(models.NodeMap, node)
        if row is None or row.state not in UP_STATES or not row.address:
            raise InputError(
                f"node {node} is not up (state "
                f"{row.state if row else 'unknown'}); expected a running "
                f"node or a static node of {account.name}"
            )
        address = row.address
    argv = ["ssh", "-o", "StrictHostKeyChecking=accept-new"]
    argv += ["-o", f"ConnectTimeout={SSH_CONNECT_TIMEOUT}"]
    if vendor.key_file is not None:
        argv += ["-i", str(vendor.key_file)]
    return [*argv, "-l", user, "--", address]
