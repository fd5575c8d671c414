"""Slurm accounting: accounts, users and holds through sacctmgr; the
jobs that ran on a node through sacct.

Skyway touches only the Slurm accounts named like its own cloud
accounts. A hold stops an account from taking new jobs (its running
jobs finish) when its budget is spent; a release lifts it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from skyway import names
from skyway.config import Config
from skyway.errors import InputError
from skyway.runner import run
from skyway.slurm import hostlists

log = logging.getLogger(__name__)
TIMEOUT = 60
UNLIMITED = "-1"


def sacctmgr(*args: str) -> str:
    """Run `sacctmgr -i ARGS` (no prompt) and return its stdout."""
    return run(["sacctmgr", "-i", *args], timeout=TIMEOUT).stdout


def _query(*args: str) -> list[list[str]]:
    out = run(["sacctmgr", "-n", "-P", *args], timeout=TIMEOUT).stdout
    return [line.split("|") for line in out.splitlines() if line.strip()]


def jobs_on(
    since: dict[str, dt.datetime],
) -> dict[str, list[tuple[str, str]]]:
    """`{node: [(job id, user), ...]}` of the jobs that ran on each node
    since its time in `since` (UTC), oldest first, from one sacct call.
    """
    if not since:
        return {}
    start = min(since.values()).replace(tzinfo=dt.UTC).astimezone()
    argv = [
        "sacct",
        "-X",
        "-n",
        "-P",
        "-a",
        f"--nodelist={','.join(sorted(since))}",
        f"--starttime={start.strftime('%Y-%m-%dT%H:%M:%S')}",
        "--endtime=now",
        "--format=JobID,User,NodeList,End",
    ]
    out = run(argv, timeout=TIMEOUT).stdout
    found: dict[str, list[tuple[str, str]]] = {}
    for line in out.splitlines():
        fields = line.split("|")
        if len(fields) < 4 or not fields[0]:
            continue
        job, user, nodelist, ended = fields[:4]
        for node in _expand(nodelist):
            if node in since and _ended_after(ended, since[node]):
                found.setdefault(node, []).append((job, user))
    return found


def _expand(nodelist: str) -> list[str]:
    try:
        return hostlists.expand(nodelist)
    except InputError:  # "None assigned" and the like
        return []


def _ended_after(ended: str, since: dt.datetime) -> bool:
    """Whether a job that ended at sacct's local time `ended` ran in a
    lifetime that began at UTC `since`; a running job ("Unknown") did."""
    try:
        local = dt.datetime.fromisoformat(ended)
    except ValueError:
        return True
    return local.astimezone(dt.UTC).replace(tzinfo=None) >= since


def accounts() -> set[str]:
    """Every Slurm account that exists."""
    return {row[0] for row in _query("show", "account", "format=account")}


def users_of(account_names: Iterable[str]) -> set[tuple[str, str]]:
    """`(account, user)` of every user association of these accounts."""
    chosen = sorted(account_names)
    if not chosen:
        return set()
    rows = _query(
        "show",
        "association",
        "where",
        f"account={','.join(chosen)}",
        "format=account,user",
    )
    return {(row[0], row[1]) for row in rows if len(row) > 1 and row[1]}


def add_account(account: str, description: str, organization: str) -> None:
    names.check("account", account)
    sacctmgr(
        "add",
        "account",
        account,
        f"Description={description or account}",
        f"Organization={organization}",
    )


def add_user(account: str, user: str) -> None:
    names.check("account", account)
    names.check("user", user)
    sacctmgr("add", "user", user, f"Account={account}")


def remove_user(account: str, user: str) -> None:
    names.check("account", account)
    names.check("user", user)
    sacctmgr("delete", "user", "where", f"name={user}", f"account={account}")


def hold_account(account: str, running_too: bool = False) -> None:
    """Stop `account` from taking new jobs; with `running_too`, from
    starting the pending ones as well."""
    names.check("account", account)
    limits = ["GrpSubmitJobs=0"] + (["GrpJobs=0"] if running_too else [])
    sacctmgr("modify", "account", "where", f"name={account}", "set", *limits)
    log.warning("Slurm account %s is on hold", account)


def release_account(account: str) -> None:
    """Lift a hold: the account takes and starts jobs again."""
    names.check("account", account)
    sacctmgr(
        "modify",
        "account",
        "where",
        f"name={account}",
        "set",
        f"GrpSubmitJobs={UNLIMITED}",
        f"GrpJobs={UNLIMITED}",
    )
    log.info("Slurm account %s is released", account)


def account_held(account: str) -> bool:
    """Whether `account` refuses new jobs now (GrpSubmitJobs=0)."""
    names.check("account", account)
    rows = _query(
        "show",
        "association",
        "where",
        f"account={account}",
        "format=account,user,grpsubmit",
    )
    return any(row[1] == "" and row[2] == "0" for row in rows)


@dataclass
class AssociationPlan:
    """What it takes to bring Slurm's associations in line with the YAML."""

    add_accounts: list[str] = field(default_factory=list)
    add_users: list[tuple[str, str]] = field(default_factory=list)
    remove_users: list[tuple[str, str]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.add_accounts or self.add_users or self.remove_users)

    def lines(self) -> list[str]:
        """One line per change, for the admin."""
        out = [f"add account {a}" for a in self.add_accounts]
        out += [f"add user {u} to {a}" for a, u in self.add_users]
        out += [f"remove user {u} from {a}" for a, u in self.remove_users]
        return out


def plan_associations(
    config: Config, existing: set[str], members: set[tuple[str, str]]
) -> AssociationPlan:
    """Changes for the configured accounts only; others are never named."""
    plan = AssociationPlan()
    for name in sorted(config.accounts):
        if name not in existing:
            plan.add_accounts.append(name)
        want = set(config.accounts[name].users)
        have = {user for account, user in members if account == name}
        plan.add_users += [(name, user) for user in sorted(want - have)]
        plan.remove_users += [(name, user) for user in sorted(have - want)]
    return plan


def current_plan(config: Config) -> AssociationPlan:
    """Read Slurm's associations and plan the sync."""
    managed = set(config.accounts)
    existing = accounts() & managed
    return plan_associations(config, existing, users_of(existing))


def apply_plan(config: Config, plan: AssociationPlan) -> None:
    """Carry a plan out through sacctmgr, accounts first."""
    for name in plan.add_accounts:
        account = config.accounts[name]
        add_account(name, f"skyway: {account.description}", account.group)
    for account_name, user in plan.add_users:
        add_user(account_name, user)
    for account_name, user in plan.remove_users:
        remove_user(account_name, user)
