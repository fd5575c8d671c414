"""Resume, suspend and fail cloud nodes: the request queue and the worker.

Slurm's hooks (and admins) only queue requests and start a worker; the
worker of an account takes the account's lock, drains every pending
request into one change of the desired node set, runs one targeted
Terraform plan and apply per touched workspace, and keeps `node_map`
and `node_journal` true. Requests that arrive meanwhile are taken by the
next round; none is dropped, and one account never has two Terraform
runs at once.
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import logging
import subprocess
import sys
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from skyway import locks, names
from skyway.config import Account, Config
from skyway.db import models
from skyway.db.engine import get_engine, session_scope
from skyway.errors import InputError, LockTimeout

log = logging.getLogger(__name__)
ACTIONS = ("resume", "suspend", "fail", "remove")
UP_STATES = ("resuming", "up")
FIRST_HOST = 10


class Notifier(Protocol):
    """Who hears about nodes coming and going (Slurm, in production)."""

    def node_up(self, name: str, address: str) -> None: ...

    def node_down(self, name: str) -> None: ...

    def node_failed(self, name: str, reason: str) -> None: ...

    def jobs_on(
        self, since: dict[str, dt.datetime]
    ) -> dict[str, list[tuple[str, str]]]:
        """`(job, user)` of the jobs that ran on each node since then."""
        ...


def default_notifier(config: Config) -> Notifier:
    """The notifier Slurm's side chooses for this configuration."""
    from skyway.slurm.notify import for_config

    notifier: Notifier = for_config(config)
    return notifier


@dataclass
class WorkResult:
    """What one call of `work` did."""

    runs: list[int] = field(default_factory=list)
    up: dict[str, str] = field(default_factory=dict)
    down: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    requests: int = 0


def check_node(account: str, node: str) -> tuple[str, int]:
    """(node type, index) of a node of `account`, or InputError."""
    names.check("node", node)
    split = names.split_node(node, [account])
    if split is None:
        raise InputError(
            f"node {node!r} is not a node of account {account}; expected "
            f"{account}-<type>-<NNN>"
        )
    return split[1], split[2]


def request(
    session: Session,
    account: str,
    nodes: list[str],
    action: str,
    *,
    jobs: str = "",
    users: str = "",
    trigger: str = "",
    reason: str = "",
    requested_at: dt.datetime | None = None,
) -> list[int]:
    """Queue one request per node and commit; return the request ids.

    Fast and Terraform-free: the hooks call it and return to Slurm.
    Every name is checked first; a bad one refuses the whole call.
    `requested_at` (UTC) is when Slurm called the hook, if not now.
    """
    if action not in ACTIONS:
        raise InputError(
            f"unknown action {action!r}; expected one of: {', '.join(ACTIONS)}"
        )
    names.check("account", account)
    for node in nodes:
        check_node(account, node)
    rows = [
        models.NodeRequest(
            account=account,
            node=node,
            action=action,
            jobs=jobs,
            users=users,
            trigger=trigger[:128],
            reason=reason,
            requested_at=requested_at or models.utcnow(),
        )
        for node in nodes
    ]
    session.add_all(rows)
    session.commit()
    return [row.id for row in rows]


def ensure_worker(config: Config, account: str) -> None:
    """Start a one-shot worker for the account unless one is running.

    Returns at once: the worker is a detached process of its own.
    """
    names.check("account", account)
    if not locks.is_free(config, account):
        return
    argv = [
        sys.executable,
        "-m",
        "skyway.nodes",
        "work",
        account,
        "--root",
        str(config.root),
    ]
    logs = config.state_dir / "log"
    logs.mkdir(parents=True, exist_ok=True)
    with (logs / f"worker-{account}.log").open("ab") as out:
        subprocess.Popen(  # noqa: S603 - an argument list, no shell
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
            close_fds=True,
        )
    log.info("started a worker for %s", account)


def wake_if_pending(config: Config, account: str) -> None:
    """Start a worker for requests queued while the lock was held.

    A hook that finds the account's lock taken leaves its request to the
    holder. A worker looks again as it lets go; anything else that holds
    the lock (an admin's plan or apply) calls this once it is done.
    """
    if has_pending(config, account):
        ensure_worker(config, account)


def work(
    config: Config, account: str, notifier: Notifier | None = None
) -> WorkResult:
    """Take the account lock and apply every pending request, then return.

    After releasing the lock it looks once more: a request queued while
    the lock was held (whose hook saw the lock taken) is never stranded.
    """
    settings = config.account(account)
    notifier = notifier or default_notifier(config)
    result = WorkResult()
    timeout = float(config.settings.terraform.lock_timeout)
    again = False
    while True:
        with ExitStack() as stack:
            try:
                stack.enter_context(
                    locks.account_lock(config, account, timeout=timeout)
                )
            except LockTimeout:
                if again:
                    return result  # its holder sees them as it lets go
                raise
            try:
                _drain(config, settings, notifier, result)
            except BaseException:
                _requeue_abandoned(config, account)
                raise
        if not has_pending(config, account):
            return result
        again, timeout = True, 0


def _drain(
    config: Config, account: Account, notifier: Notifier, result: WorkResult
) -> None:
    """One batch of every pending request, and those a dead worker left
    running (we hold the lock now). Requests queued meanwhile are seen
    by `work` once the lock is let go."""
    Batch(config, account, notifier, result).run()


@dataclass(frozen=True)
class Request:
    """A node request as the worker reads it."""

    id: int
    node: str
    action: str
    jobs: str
    users: str
    trigger: str
    reason: str


def _take_pending(session: Session, account: str) -> list[Request]:
    """Every pending request of the account, now marked running, and any
    left running by a worker that died (the caller holds the lock)."""
    table = models.NodeRequest
    columns = (
        table.id,
        table.node,
        table.action,
        table.jobs,
        table.users,
        table.trigger,
        table.reason,
    )
    rows = session.execute(
        select(*columns, table.state)
        .where(
            table.account == account,
            table.state.in_(("pending", "running")),
        )
        .order_by(table.id)
    ).all()
    taken = [Request(*row[:-1]) for row in rows]
    waiting = [row.id for row in rows if row.state == "pending"]
    if waiting:
        session.execute(
            update(table).where(table.id.in_(waiting)).values(state="running")
        )
    return taken


def has_pending(config: Config, account: str) -> bool:
    """True when a request of the account waits for a worker."""
    table = models.NodeRequest
    query = (
        select(table.id)
        .where(table.account == account, table.state == "pending")
        .limit(1)
    )
    with get_engine(config.database_url).connect() as conn:
        return conn.execute(query).first() is not None


def _requeue_abandoned(config: Config, account: str) -> None:
    """Requests left running by a worker that died go back to pending."""
    table = models.NodeRequest
    with session_scope(config.database_url) as session:
        session.execute(
            update(table)
            .where(table.account == account, table.state == "running")
            .values(state="pending")
        )


def desired_entry(row: models.NodeMap) -> dict[str, str]:
    """A node's entry in the workspace's nodes file."""
    return {
        "node_type": row.node_type,
        "address": row.address or "",
        "jobs": row.jobs or "",
        "user": (row.users or "").split(",")[0],
    }


def desired_nodes(session: Session, account: str) -> dict[str, dict[str, str]]:
    """Every node the database says should be running, with its data."""
    rows = session.scalars(
        select(models.NodeMap).where(
            models.NodeMap.account == account,
            models.NodeMap.state.in_(UP_STATES),
        )
    )
    return {row.name: desired_entry(row) for row in rows}


def free_address(
    session: Session, network: str, taken: Iterable[str] = ()
) -> str:
    """The lowest free address of `network`, from host .10 upwards.

    Addresses in use by any account count as taken.
    """
    # TODO: two local accounts sharing one network and resuming at the
    # same moment (each under its own lock) could pick the same address;
    # give local accounts distinct networks until a global lock exists.
    net = ipaddress.ip_network(network, strict=False)
    used = set(taken) | set(
        session.scalars(
            select(models.NodeMap.address).where(
                models.NodeMap.address.is_not(None),
                models.NodeMap.state.not_in(("idle", "down")),
            )
        )
    )
    for offset in range(FIRST_HOST, net.num_addresses - 1):
        candidate = str(net.network_address + offset)
        if candidate not in used:
            return candidate
    raise InputError(f"no free address left in {network}")


def node_cost(price: Decimal, hours: float) -> Decimal:
    """price x hours, to the micro-dollar."""
    return (price * Decimal(str(round(hours, 6)))).quantize(Decimal("1e-6"))


def price_of(config: Config, account: Account, node_type: str) -> Decimal:
    return config.node_type(account, node_type).price


class Batch:
    """One round of the worker: pending requests -> one targeted change."""

    def __init__(
        self,
        config: Config,
        account: Account,
        notifier: Notifier,
        result: WorkResult,
    ) -> None:
        self.config = config
        self.account = account
        self.requests: list[Request] = []
        self.notifier = notifier
        self.result = result
        self.errors: dict[str, str] = {}
        self.final: dict[str, Request] = {}
        self.jobs: dict[str, list[str]] = {}
        self.users: dict[str, list[str]] = {}

    def run(self) -> bool:
        """One round; False when nothing was pending.

        Two transactions: one takes the requests, marks the nodes and
        opens the run record before Terraform starts; one records the
        outcome after it ends.
        """
        url = self.config.database_url
        with session_scope(url) as session:
            self.requests = _take_pending(session, self.account.name)
            if not self.requests:
                return False
            self.result.requests += len(self.requests)
            self._reduce()
            wanted = self._wanted(session)
            for node, entry in wanted.items():
                self._mark(session, node, entry)
            run = self._start(session, wanted) if wanted else None
        outcome = self._terraform(run, wanted) if run else None
        with session_scope(url) as session:
            if run is not None:
                self._finish(session, run, wanted, outcome)
            self._close_requests(session, run.id if run else None)
        return True

    def _reduce(self) -> None:
        """The last action per node wins; jobs and users add up."""
        for req in self.requests:
            try:
                node_type, index = check_node(self.account.name, req.node)
                self._check_limit(node_type, index)
            except InputError as exc:
                self.errors[req.node] = str(exc)
                continue
            self.final[req.node] = req
            if req.action == "resume":
                _add(self.jobs.setdefault(req.node, []), req.jobs)
                _add(self.users.setdefault(req.node, []), req.users)

    def _check_limit(self, node_type: str, index: int) -> None:
        limit = self.account.nodes.get(node_type)
        if limit is None:
            valid = ", ".join(sorted(self.account.nodes))
            raise InputError(
                f"unknown node type {node_type!r} for account "
                f"{self.account.name}; expected one of: {valid}"
            )
        if not 1 <= index <= limit:
            raise InputError(
                f"node index {index} out of range for type {node_type} "
                f"of {self.account.name}; expected 1 to {limit}"
            )

    def _wanted(self, session: Session) -> dict[str, dict[str, str] | None]:
        """The nodes whose running or not must change, with entries."""
        from skyway import vendors

        assigns = vendors.get(self.account.vendor).assigns_addresses
        taken: list[str] = []
        wanted: dict[str, dict[str, str] | None] = {}
        for node, req in sorted(self.final.items()):
            row = session.get(models.NodeMap, node)
            # "resuming" with no instance is a boot whose worker died
            # before Terraform created it: it must run again.
            running = row is not None and (
                row.state == "up"
                or (row.state == "resuming" and bool(row.instance_id))
            )
            if req.action != "resume":
                if running or (row is not None and row.instance_id):
                    wanted[node] = None
                continue
            if running:
                assert row is not None
                if row.address:
                    self.notifier.node_up(node, row.address)
                    self.result.up[node] = row.address
                continue
            address = ""
            if assigns:
                address = free_address(session, self._network(), taken)
                taken.append(address)
            wanted[node] = {
                "node_type": node.removeprefix(self.account.name + "-").rsplit(
                    "-", 1
                )[0],
                "address": address,
                "jobs": ",".join(self.jobs.get(node, [])),
                "user": (self.users.get(node) or [""])[0],
            }
        return wanted

    def _network(self) -> str:
        from skyway.vendors.local import settings

        return settings(self.account).network

    def _mark(
        self, session: Session, node: str, entry: dict[str, str] | None
    ) -> None:
        """node_map: resuming or suspending, before Terraform runs."""
        row = session.get(models.NodeMap, node)
        if row is None:
            assert entry is not None
            row = models.NodeMap(
                name=node, account=self.account.name, node_type=""
            )
            session.add(row)
        if entry is None:
            row.state = "suspending"
            return
        row.node_type = entry["node_type"]
        row.state = "resuming"
        row.address = entry["address"] or None
        row.jobs = entry["jobs"]
        row.users = ",".join(self.users.get(node, []))
        row.price = price_of(self.config, self.account, row.node_type)
        row.reason = ""

    def _start(
        self, session: Session, wanted: dict[str, dict[str, str] | None]
    ) -> Any:
        from skyway.terraform import runs

        kinds, who = self._trigger()
        run = runs.start(
            session,
            self.config,
            self.account.name,
            self._action(),
            trigger=kinds,
            triggered_by=who,
            jobs=",".join(sorted({j for v in self.jobs.values() for j in v})),
            nodes=",".join(sorted(wanted)),
        )
        self.result.runs.append(run.id)
        return run

    def _terraform(
        self, run: Any, wanted: dict[str, dict[str, str] | None]
    ) -> Any:
        """The targeted change; an Exception is returned, not raised."""
        from skyway.terraform.change import apply_change
        from skyway.terraform.workspace import Workspace

        try:
            workspace = Workspace(self.config, self.account)
            run.row.template_hash = workspace.prepare(run.log)
            return apply_change(workspace, run, wanted)
        except Exception as exc:
            log.exception("run %s of %s failed", run.id, self.account.name)
            return exc

    def _finish(
        self,
        session: Session,
        run: Any,
        wanted: dict[str, dict[str, str] | None],
        outcome: Any,
    ) -> None:
        from skyway.terraform import runs

        if isinstance(outcome, Exception):
            runs.finish(session, run, "failed", exit_code=1, error=str(outcome))
            self._record_failure(session, wanted, str(outcome))
            return
        runs.finish(
            session,
            run,
            "failed" if outcome.errors else "applied",
            summary=outcome.summary,
            exit_code=outcome.exit_code,
            error="; ".join(outcome.errors),
        )
        self._record(session, outcome)

    def _action(self) -> str:
        actions = {req.action for req in self.final.values()}
        return actions.pop() if len(actions) == 1 else "change"

    def _trigger(self) -> tuple[str, str]:
        kinds: list[str] = []
        who: list[str] = []
        for req in self.requests:
            kind, _, by = req.trigger.partition(":")
            _add(kinds, kind or "service")
            _add(who, by)
        return ",".join(kinds), ",".join(who)

    def _record(self, session: Session, change: Any) -> None:
        now = models.utcnow()
        for node, out in change.up.items():
            self._node_up(session, node, out, now)
        ran = self._jobs_ran(session, change.gone)
        for node in change.gone:
            self._node_gone(session, node, now, ran.get(node, []))
        for node, error in change.failed.items():
            self._node_failed(session, node, error)

    def _record_failure(
        self,
        session: Session,
        wanted: dict[str, dict[str, str] | None],
        error: str,
    ) -> None:
        for node in wanted:
            self._node_failed(session, node, error)

    def _node_up(
        self,
        session: Session,
        node: str,
        out: dict[str, str],
        now: Any,
    ) -> None:
        row = session.get(models.NodeMap, node)
        assert row is not None
        row.state = "up"
        row.instance_id = out.get("id") or None
        row.address = out.get("address") or row.address
        row.started_at = now
        session.add(
            models.NodeJournal(
                node=node,
                account=self.account.name,
                node_type=row.node_type,
                instance_id=row.instance_id,
                price=row.price,
                started_at=now,
                jobs=row.jobs,
                users=row.users,
            )
        )
        self.result.up[node] = row.address or ""
        self.notifier.node_up(node, row.address or "")

    def _jobs_ran(
        self, session: Session, gone: Iterable[str]
    ) -> dict[str, list[tuple[str, str]]]:
        """The jobs Slurm ran on the nodes that went, in their lifetime:
        a node up for one job often runs others before it idles out."""
        since = {}
        for node in gone:
            row = session.get(models.NodeMap, node)
            if row is not None and row.started_at is not None:
                since[node] = row.started_at
        return self.notifier.jobs_on(since) if since else {}

    def _node_gone(
        self,
        session: Session,
        node: str,
        now: Any,
        ran: list[tuple[str, str]],
    ) -> None:
        req = self.final[node]
        row = session.get(models.NodeMap, node)
        assert row is not None
        reason = req.reason or _END_REASONS[req.action]
        _close_journal(session, node, now, reason, ran)
        row.state = "failed" if req.action == "fail" else "idle"
        row.reason = req.reason if req.action == "fail" else ""
        row.instance_id = None
        row.address = None
        row.started_at = None
        row.jobs = row.users = ""
        self.result.down.append(node)
        if req.action == "fail":
            self.notifier.node_failed(node, reason)
        else:
            self.notifier.node_down(node)

    def _node_failed(self, session: Session, node: str, error: str) -> None:
        """A node Terraform could not create or destroy.

        A failed boot leaves nothing behind (the run cleaned up). A
        failed destroy keeps the instance id and the open journal row:
        the instance may still run and cost, and the next request or the
        reconciler destroys it.
        """
        row = session.get(models.NodeMap, node)
        assert row is not None
        row.state = "failed"
        row.reason = error[:2000]
        if self.final[node].action == "resume":
            row.address = None
            row.started_at = None
        self.errors[node] = error
        self.result.failed[node] = error
        self.notifier.node_failed(node, error)

    def _close_requests(self, session: Session, run_id: int | None) -> None:
        table = models.NodeRequest
        closed = {"run_id": run_id, "done_at": models.utcnow()}
        done = [r.id for r in self.requests if r.node not in self.errors]
        if done:
            session.execute(
                update(table)
                .where(table.id.in_(done))
                .values(state="done", error="", **closed)
            )
        for req in self.requests:
            error = self.errors.get(req.node)
            if error:
                session.execute(
                    update(table)
                    .where(table.id == req.id)
                    .values(state="failed", error=error[:2000], **closed)
                )


_END_REASONS = {"suspend": "suspended", "fail": "failed", "remove": "removed"}


def _add(items: list[str], value: str) -> None:
    for part in value.split(","):
        part = part.strip()
        if part and part not in items:
            items.append(part)


def _close_journal(
    session: Session,
    node: str,
    now: Any,
    reason: str,
    ran: list[tuple[str, str]],
) -> None:
    """End the node's open journal row: end time, cost, reason, and the
    jobs and users that ran on it besides those it was started for."""
    table = models.NodeJournal
    row = session.scalars(
        select(table)
        .where(table.node == node, table.ended_at.is_(None))
        .order_by(table.id.desc())
    ).first()
    if row is None:
        return
    row.ended_at = now
    hours = max((now - row.started_at).total_seconds(), 0) / 3600
    row.cost = node_cost(row.price, hours)
    row.end_reason = reason[:500]
    if ran:
        jobs = [x for x in (row.jobs or "").split(",") if x]
        users = [x for x in (row.users or "").split(",") if x]
        for job, user in ran:
            _add(jobs, job)
            _add(users, user)
        row.jobs = ",".join(jobs)
        row.users = ",".join(users)


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m skyway.nodes")
    parser.add_argument("command", choices=["work"])
    parser.add_argument("account")
    parser.add_argument("--root")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(process)d %(name)s %(levelname)s %(message)s",
    )
    from skyway import config as configuration
    from skyway.errors import SkywayError

    try:
        result = work(configuration.load(args.root), args.account)
    except SkywayError as exc:
        log.error("worker for %s: %s", args.account, exc)
        return exc.exit_code
    log.info(
        "worker for %s: %d requests, runs %s, up %s, down %s, failed %s",
        args.account,
        result.requests,
        result.runs,
        sorted(result.up),
        sorted(result.down),
        sorted(result.failed),
    )
    return 0


if __name__ == "__main__":
    sys.exit(_main())
