"""Reconcile the four views of an account's nodes, and fix what is safe.

The views: Slurm's nodes (`sinfo`), the database's `node_map`, the
Terraform state of the account's workspaces, and the vendor's own list
of instances. They are read together under the account's lock, so no
Terraform run of the account is half-way through while they are read.

What is fixed, because it is safe:
- an instance nobody wants (in Terraform state or the vendor's list, not
  desired by the database, with no request waiting) is reported at once
  and destroyed once it has been unwanted for the grace period: through
  a targeted Terraform run (a `remove` request) when Terraform manages
  it, through the vendor's API when it does not;
- a node the database or Slurm believes up whose instance is gone goes
  DOWN in Slurm with a reason, and its journal row is closed (a `fail`
  request, which the account worker carries out).

Everything else (a Terraform state the vendor contradicts, an instance
id that differs, a node Slurm powered down that the database believes
up) is reported for an admin to judge.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from skyway import names
from skyway.config import Account, Config
from skyway.db import models
from skyway.db.engine import session_scope
from skyway.db.models import utcnow

log = logging.getLogger(__name__)

UP_STATES = ("resuming", "up")
BUSY_REQUESTS = ("pending", "running")
TRIGGER = "reconcile:skyway"
UNWANTED = "unwanted"
GONE = "gone"
ABANDONED = "abandoned-boot"
SLURM_ORPHAN = "slurm-up-no-instance"
STATE_ONLY = "state-only"
UNTRACKED = "untracked"
ID_MISMATCH = "instance-mismatch"
SLURM_DOWN = "slurm-powered-down"


@dataclass(frozen=True)
class Seen:
    """One instance as Terraform state or the vendor shows it."""

    node: str
    instance: str


@dataclass
class Views:
    """The four views of one account, read at one moment."""

    account: str
    node_map: dict[str, models.NodeMap]
    busy: set[str]
    terraform: dict[str, Seen] | None
    vendor: list[Seen] | None
    slurm: dict[str, str] | None

    @property
    def desired(self) -> set[str]:
        return {
            name
            for name, row in self.node_map.items()
            if row.state in UP_STATES
        }

    def instances(self) -> dict[str, Seen]:
        """Every instance either view shows, by node (vendor wins)."""
        found = dict(self.terraform or {})
        for seen in self.vendor or []:
            found[seen.node or seen.instance] = seen
        return found

    def available(self) -> list[str]:
        views = ["node_map"]
        views += [
            name
            for name in ("slurm", "terraform", "vendor")
            if getattr(self, name) is not None
        ]
        return views


@dataclass
class Drift:
    """One disagreement between the views, and what was done about it."""

    kind: str
    node: str
    instance: str
    detail: str
    action: str = "reported"

    def line(self) -> str:
        target = self.node or "?"
        if self.instance:
            target += f" ({self.instance})"
        return f"{self.kind}: {target}: {self.detail}; {self.action}"


@dataclass
class Report:
    """What one reconciliation of an account found and did."""

    account: str
    views: list[str]
    drift: list[Drift] = field(default_factory=list)
    queued: list[int] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [item.line() for item in self.drift]


def reconcile(
    config: Config,
    account: str,
    grace: float = 600,
    *,
    fix: bool = True,
    slurm: bool | None = None,
    lock_timeout: float | None = None,
) -> Report:
    """Compare the views of `account`, fix what is safe, report the rest.

    `slurm=None` reads Slurm's view when `sinfo` is installed.
    """
    from skyway import locks

    settings = config.account(account)
    timeout = (
        config.settings.terraform.lock_timeout
        if lock_timeout is None
        else lock_timeout
    )
    with locks.account_lock(config, account, timeout=timeout):
        views = read_views(config, settings, _use_slurm(slurm))
        report = Report(account, views.available(), compare(views))
        _track_grace(config, report, grace)
        if fix:
            _fix(config, settings, views, report)
    for line in report.lines():
        log.debug("%s: %s", account, line)
    return report


def _use_slurm(slurm: bool | None) -> bool:
    if slurm is None:
        return shutil.which("sinfo") is not None
    return slurm


def read_views(config: Config, account: Account, slurm: bool) -> Views:
    """Read the four views of an account (hold the account lock)."""
    with session_scope(config.database_url) as session:
        node_map = _node_map(session, account.name)
        busy = _busy(session, account.name)
    return Views(
        account=account.name,
        node_map=node_map,
        busy=busy,
        terraform=_terraform_view(config, account),
        vendor=_vendor_view(config, account),
        slurm=_slurm_view(config, account) if slurm else None,
    )


def _node_map(session: Session, account: str) -> dict[str, models.NodeMap]:
    rows = session.scalars(
        select(models.NodeMap).where(models.NodeMap.account == account)
    )
    return {row.name: row for row in rows}


def _busy(session: Session, account: str) -> set[str]:
    table = models.NodeRequest
    query = select(table.node).where(
        table.account == account, table.state.in_(BUSY_REQUESTS)
    )
    return set(session.scalars(query))


def _terraform_view(config: Config, account: Account) -> dict[str, Seen] | None:
    from skyway.errors import SkywayError
    from skyway.terraform.workspace import Workspace

    key = f"terraform:{account.name}"
    workspace = Workspace(config, account)
    if not (workspace.path / ".terraform").is_dir():
        return {}
    found = {}
    try:
        for name in workspace.workspaces:
            for node, entry in workspace.state_nodes(name).items():
                found[node] = Seen(node, str(entry.get("id", "")))
    except SkywayError as exc:
        _warn_once(key, f"{account.name}: no Terraform view: {exc}")
        return None
    _WARNED.discard(key)
    return found


def _vendor_view(config: Config, account: Account) -> list[Seen] | None:
    from skyway import vendors

    key = f"vendor:{account.name}"
    try:
        listed = vendors.get(account.vendor).list_instances(config, account)
    except Exception as exc:  # no SDK, no credentials, API down: no view
        _warn_once(key, f"{account.name}: no vendor view: {exc}")
        return None
    _WARNED.discard(key)
    # A local node Terraform holds but the host does not run is gone.
    return [
        Seen(item.node, item.id) for item in listed if item.state != "missing"
    ]


def _slurm_view(config: Config, account: Account) -> dict[str, str] | None:
    from skyway.errors import CommandError
    from skyway.slurm import scontrol

    try:
        states = scontrol.node_states()
    except CommandError as exc:
        _warn_once(
            f"slurm:{account.name}", f"{account.name}: no Slurm view: {exc}"
        )
        return None
    _WARNED.discard(f"slurm:{account.name}")
    mine = {}
    for node, state in states.items():
        split = names.split_node(node, config.accounts)
        if split is not None and split[0] == account.name:
            mine[node] = state
    return mine


_WARNED: set[str] = set()


def _warn_once(key: str, message: str) -> None:
    """A missing view is worth one warning, not one per round."""
    if key in _WARNED:
        log.debug("%s", message)
    else:
        _WARNED.add(key)
        log.warning("%s", message)


def slurm_up(state: str) -> bool:
    """True when sinfo's short state means Slurm counts the node up.

    `~` powered down, `#` powering up, `%` powering down, `!` pending
    power down; DOWN, FAIL, FUTURE and UNKNOWN nodes are not up either.
    """
    if not state or any(mark in state for mark in "~#%!"):
        return False
    base = state.rstrip("*$@^-").lower()
    return not base.startswith(("down", "fail", "futr", "unk", "inval"))


def compare(views: Views) -> list[Drift]:
    """Every disagreement between the views (pure: no side effects)."""
    drift: list[Drift] = []
    drift += _unwanted(views)
    drift += _gone(views)
    drift += _contradictions(views)
    return sorted(drift, key=lambda d: (d.node, d.kind))


def _unwanted(views: Views) -> list[Drift]:
    found = []
    for key, seen in sorted(views.instances().items()):
        if key in views.desired or key in views.busy:
            continue
        row = views.node_map.get(key)
        state = row.state if row is not None else "unknown to the database"
        found.append(
            Drift(
                UNWANTED,
                seen.node,
                seen.instance,
                f"instance runs but the node is not wanted ({state})",
            )
        )
    return found


def _gone(views: Views) -> list[Drift]:
    if views.terraform is None and views.vendor is None:
        return []
    instances = views.instances()
    if views.vendor is not None:  # what runs, not what Terraform believes
        instances = {s.node or s.instance: s for s in views.vendor}
    slurm = views.slurm or {}
    found = []
    for node in sorted(set(views.desired) | set(slurm)):
        if node in views.busy:
            continue
        seen = instances.get(node)
        if node in views.desired and views.node_map[node].state == "resuming":
            found.append(_abandoned(node, seen))
        elif node in views.desired and seen is None:
            found.append(
                Drift(GONE, node, "", "the database says up; no instance")
            )
        elif seen is None and slurm_up(slurm.get(node, "")):
            found.append(
                Drift(
                    SLURM_ORPHAN,
                    node,
                    "",
                    f"Slurm says {slurm[node]}; no instance",
                )
            )
    return found


def _abandoned(node: str, seen: Seen | None) -> Drift:
    """A boot no worker carries on: the account lock is ours, no request
    waits, yet the node is still `resuming` (its worker died)."""
    has = "an instance" if seen else "no instance"
    return Drift(
        ABANDONED,
        node,
        seen.instance if seen else "",
        f"resuming with no worker and {has}",
    )


def _contradictions(views: Views) -> list[Drift]:
    found: list[Drift] = []
    terraform = views.terraform or {}
    vendor = {s.node or s.instance: s for s in views.vendor or []}
    if views.terraform is not None and views.vendor is not None:
        for node in sorted(set(terraform) - set(vendor) - views.desired):
            found.append(
                Drift(
                    STATE_ONLY,
                    node,
                    terraform[node].instance,
                    "in Terraform state but the vendor does not list it",
                )
            )
        for node in sorted(set(vendor) - set(terraform)):
            if node in views.desired:
                found.append(
                    Drift(
                        UNTRACKED,
                        node,
                        vendor[node].instance,
                        "the vendor runs it but Terraform state lacks it",
                    )
                )
    found += _mismatches(views)
    return found


def _mismatches(views: Views) -> list[Drift]:
    found = []
    instances = views.instances()
    slurm = views.slurm or {}
    for node in sorted(views.desired - views.busy):
        row = views.node_map[node]
        seen = instances.get(node)
        if seen and row.instance_id and seen.instance != row.instance_id:
            found.append(
                Drift(
                    ID_MISMATCH,
                    node,
                    seen.instance,
                    f"the database records instance {row.instance_id}",
                )
            )
        state = slurm.get(node, "")
        if seen and row.state == "up" and "~" in state:
            found.append(
                Drift(
                    SLURM_DOWN,
                    node,
                    seen.instance,
                    f"Slurm says {state} but the database says up",
                )
            )
    return found


def _grace_file(config: Config, account: str) -> Path:
    return config.state_dir / "reconcile" / f"{account}.json"


def _track_grace(config: Config, report: Report, grace: float) -> None:
    """Remember since when each unwanted instance has been seen."""
    path = _grace_file(config, report.account)
    try:
        seen: dict[str, float] = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        seen = {}
    now = utcnow().timestamp()
    kept = {}
    for item in report.drift:
        if item.kind != UNWANTED:
            continue
        key = f"{item.node}|{item.instance}"
        kept[key] = seen.get(key, now)
        left = grace - (now - kept[key])
        item.action = "destroy now" if left <= 0 else f"destroy in {left:.0f} s"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(kept, indent=1, sort_keys=True) + "\n")


def _fix(
    config: Config, account: Account, views: Views, report: Report
) -> None:
    for item in report.drift:
        try:
            if item.kind == UNWANTED and item.action == "destroy now":
                _destroy(config, account, views, item, report)
            elif item.kind in (GONE, ABANDONED):
                _end(config, account.name, views, item, report)
            elif item.kind == SLURM_ORPHAN:
                _set_down(config, item)
        except Exception as exc:  # one failed fix must not stop the others
            log.exception("%s: cannot fix %s", account.name, item.node)
            item.action = f"fix failed: {exc}"


def _destroy(
    config: Config,
    account: Account,
    views: Views,
    item: Drift,
    report: Report,
) -> None:
    """A targeted removal if Terraform has it, else the vendor's API.

    Without a Terraform view nothing is destroyed: the instance may be
    Terraform's, and terminating it behind Terraform's back is drift too.
    """
    if views.terraform is None:
        item.action = "kept: the Terraform state cannot be read"
        return
    if (
        views.terraform
        and item.node in views.terraform
        and _ours(account, item.node)
    ):
        ids = _queue(config, account.name, item, "remove", adopt=True)
        report.queued += ids
        item.action = _queued("removal queued:", ids)
        return
    from skyway import vendors

    vendors.get(account.vendor).terminate(config, account, item.instance)
    item.action = "terminated through the vendor's API"


def _ours(account: Account, node: str) -> bool:
    """A node name the account's worker may act on."""
    from skyway import nodes
    from skyway.errors import InputError

    try:
        node_type, index = nodes.check_node(account.name, node)
    except InputError:
        return False
    return 1 <= index <= account.nodes.get(node_type, 0)


def _end(
    config: Config, account: str, views: Views, item: Drift, report: Report
) -> None:
    """Close the journal row; DOWN in Slurm unless Slurm agrees it is off.

    A node Slurm already powered down (`~`) only needs its bookkeeping
    ended (a `suspend`); any other goes DOWN with the reason (a `fail`).
    """
    row = views.node_map[item.node]
    state = (views.slurm or {}).get(item.node, "")
    quiet = row.state == "up" and "~" in state
    action = "suspend" if quiet else "fail"
    ids = _queue(config, account, item, action, adopt=False)
    report.queued += ids
    done = "journal closed" if quiet else "DOWN and journal closed"
    item.action = _queued(f"{done} by", ids)


def _queued(what: str, ids: list[int]) -> str:
    if not ids:
        return "left to a request queued meanwhile"
    return f"{what} request {', '.join(map(str, ids))}"


def _queue(
    config: Config, account: str, item: Drift, action: str, adopt: bool
) -> list[int]:
    """Queue a request for the worker; `adopt` records the instance."""
    from skyway import nodes

    reason = f"reconciler: {item.detail}"
    with session_scope(config.database_url) as session:
        if _has_request(session, account, item.node):
            return []
        if adopt:
            _adopt(session, account, item)
        return nodes.request(
            session,
            account,
            [item.node],
            action,
            trigger=TRIGGER,
            reason=reason,
        )


def _has_request(session: Session, account: str, node: str) -> bool:
    """A request queued since the views were read wins over ours."""
    return node in _busy(session, account)


def _adopt(session: Session, account: str, item: Drift) -> None:
    """Record an unwanted instance in node_map so the worker destroys it.

    The worker only removes nodes it knows to have an instance; an
    instance made behind Skyway's back (or left by a crash) is written
    into the node's row, which stays powered down.
    """
    row = session.get(models.NodeMap, item.node)
    if row is None:
        split = names.split_node(item.node, [account])
        row = models.NodeMap(
            name=item.node,
            account=account,
            node_type=split[1] if split else "",
            state="idle",
        )
        session.add(row)
    row.instance_id = item.instance or row.instance_id
    session.flush()


def _set_down(config: Config, item: Drift) -> None:
    """Slurm believes in a node that has no instance: DOWN, with why."""
    from skyway.slurm import notify

    notify.for_config(config).node_failed(
        item.node, f"reconciler: {item.detail}"
    )
    item.action = "set DOWN in Slurm"
