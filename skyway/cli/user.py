"""Login-node commands: `sinfo-node-types` and `sinteractive`.

Both read the catalog the admin side publishes (`SKYWAY_CATALOG`, or
the one under `SKYWAY_ROOT`): no cloud credentials, no database.
"""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path
from typing import Any

import click

from skyway.cli.app import echo_table, entry
from skyway.errors import BudgetError, CommandError, InputError

HELD = ("hold", "held", "exceeded", "cancel", "cancelled")
CONTEXT = {"help_option_names": ["-h", "--help"]}


def current_user() -> str:
    """The login name (Slurm's associations enforce it again)."""
    return getpass.getuser()


def load_catalog() -> dict[str, Any]:
    """The published catalog, found without loading the whole config."""
    from skyway import catalog

    explicit = os.environ.get(catalog.CATALOG_VAR)
    root = os.environ.get("SKYWAY_ROOT")
    if explicit or not root:
        return catalog.read(Path(explicit) if explicit else None)
    usual = Path(root) / "state" / "catalog.json"
    if usual.exists():
        return catalog.read(usual)
    from skyway import config

    return catalog.read(config.load(root).catalog_path)


def my_accounts(data: dict[str, Any], user: str) -> list[str]:
    accounts = data.get("accounts", {})
    return sorted(a for a, info in accounts.items() if user in info["users"])


@click.command(context_settings=CONTEXT)
@click.option("-A", "--account", metavar="ACCOUNT", help="Only this account.")
def sinfo_node_types(account: str | None) -> int:
    """Node types of your cloud accounts: size, price, limits, nodes up."""
    data = load_catalog()
    user = current_user()
    chosen = [account] if account else my_accounts(data, user)
    if account:
        _account(data, account, user, member=False)
    if not chosen:
        click.echo(f"{user} belongs to no cloud account; ask your admins.")
        return 0
    rows = []
    for name in chosen:
        info = data["accounts"][name]
        for type_name, t in sorted(info["node_types"].items()):
            rows.append(_type_row(name, type_name, t))
    echo_table(rows, TYPE_HEADERS)
    for name in chosen:
        click.echo(budget_line(name, data["accounts"][name].get("budget")))
    return 0


TYPE_HEADERS = [
    "account",
    "type",
    "instance",
    "cores",
    "memory",
    "gpus",
    "$/hour",
    "max",
    "up",
]


def _type_row(account: str, type_name: str, t: dict[str, Any]) -> list[Any]:
    gpus = t.get("gpus") or 0
    if gpus and t.get("gpu_type"):
        gpus = f"{gpus} × {t['gpu_type']}"
    return [
        account,
        type_name,
        t["instance"],
        t["cores"],
        f"{t['memory_gb']:g} GB",
        gpus or "-",
        f"{float(t['price']):.4f}",
        t["max"],
        t["up"],
    ]


def budget_line(account: str, budget: dict[str, Any] | None) -> str:
    if not budget:
        return f"{account}: no budget set"
    parts = [f"{account}: budget ${float(budget['amount']):,.2f}"]
    if budget.get("balance") is not None:
        parts.append(f"balance ${float(budget['balance']):,.2f}")
    parts.append(f"rate cap ${float(budget['rate']):,.2f}/h")
    parts.append(f"status {budget.get('status', 'normal')}")
    return ", ".join(parts)


def _account(
    data: dict[str, Any], account: str, user: str, member: bool = True
) -> dict[str, Any]:
    """An account of the catalog; with `member`, one the user is in."""
    mine = my_accounts(data, user)
    accounts = data.get("accounts", {})
    if account not in accounts or (member and account not in mine):
        valid = ", ".join(mine) or "none (ask your admins)"
        problem = (
            "unknown account"
            if account not in accounts
            else (f"{user} is not a member of account")
        )
        raise InputError(f"{problem} {account!r}; your accounts: {valid}")
    info: dict[str, Any] = accounts[account]
    return info


def parse_time(text: str) -> float:
    """A Slurm time limit (`M`, `M:S`, `H:M:S`, `D-H[:M[:S]]`) in hours."""
    days, dash, rest = text.strip().rpartition("-")
    try:
        parts = [int(p) for p in rest.split(":")]
        whole_days = int(days) if dash else 0
    except ValueError:
        raise InputError(_time_problem(text)) from None
    if dash:
        if len(parts) > 3:
            raise InputError(_time_problem(text))
        hours, minutes, seconds = (parts + [0, 0])[:3]
    elif len(parts) == 1:
        hours, minutes, seconds = 0, parts[0], 0
    elif len(parts) == 2:
        hours, minutes, seconds = 0, parts[0], parts[1]
    elif len(parts) == 3:
        hours, minutes, seconds = parts
    else:
        raise InputError(_time_problem(text))
    total = whole_days * 24 + hours + minutes / 60 + seconds / 3600
    if total <= 0 or min(parts) < 0:
        raise InputError(_time_problem(text))
    return total


def _time_problem(text: str) -> str:
    return (
        f"bad time limit {text!r}; expected minutes, MM:SS, HH:MM:SS or "
        "D-HH[:MM[:SS]], more than zero"
    )


def quote(
    account: str,
    type_name: str,
    t: dict[str, Any],
    hours: float,
    budget: dict[str, Any] | None,
) -> str:
    """The price of the session, checked against the account's budget."""
    price = float(t["price"])
    cost = price * hours
    if budget:
        if str(budget.get("status", "normal")).lower() in HELD:
            raise BudgetError(
                f"account {account} is on hold (budget status "
                f"{budget['status']}); ask its PI or your admins"
            )
        if price > float(budget["rate"]):
            raise BudgetError(
                f"node type {type_name} costs ${price:.2f}/h, over account "
                f"{account}'s rate cap of ${float(budget['rate']):.2f}/h"
            )
    line = (
        f"{account} {type_name} ({t['instance']}, {t['cores']} cores, "
        f"{t['memory_gb']:g} GB): ${price:.4f}/h × {hours:.2f} h = "
        f"${cost:.2f}"
    )
    balance = (budget or {}).get("balance")
    if balance is None:
        return line
    if cost > float(balance):
        raise BudgetError(
            f"{line}, more than account {account}'s balance of "
            f"${float(balance):.2f}"
        )
    return f"{line}; balance left after: ${float(balance) - cost:,.2f}"


def srun_argv(
    account: str,
    partition: str,
    node_type: str,
    time_limit: str,
    extra: tuple[str, ...],
    shell: str,
) -> list[str]:
    """The interactive step sinteractive becomes."""
    return [
        "srun",
        f"--account={account}",
        f"--partition={partition}",
        f"--constraint={node_type}",
        f"--time={time_limit}",
        *extra,
        "--pty",
        shell,
        "-i",
    ]


@click.command(context_settings={**CONTEXT, "ignore_unknown_options": True})
@click.option("-A", "--account", metavar="ACCOUNT", required=True)
@click.option("-p", "--partition", metavar="PARTITION")
@click.option("-C", "--constraint", metavar="TYPE", required=True)
@click.option("-t", "--time", "time_limit", metavar="TIME", default="01:00:00")
@click.argument("srun_args", nargs=-1, type=click.UNPROCESSED)
def sinteractive(
    account: str,
    partition: str | None,
    constraint: str,
    time_limit: str,
    srun_args: tuple[str, ...],
) -> int:
    """Start an interactive shell on a cloud node of ACCOUNT.

    Checks that you belong to ACCOUNT, that TYPE is one of its node
    types and that its budget allows the session, prints a quote, then
    becomes `srun --pty` with the other options given.
    """
    data = load_catalog()
    info = _account(data, account, current_user())
    chosen = partition or info.get("partition", account)
    if chosen != info.get("partition", account):
        raise InputError(
            f"partition {chosen!r} does not belong to account {account}; "
            f"expected {info.get('partition', account)}"
        )
    types = info["node_types"]
    if constraint not in types:
        raise InputError(
            f"unknown node type {constraint!r} for account {account}; "
            f"expected one of: {', '.join(sorted(types))}"
        )
    hours = parse_time(time_limit)
    line = quote(
        account, constraint, types[constraint], hours, info.get("budget")
    )
    click.echo(f"sinteractive: {line}", err=True)
    shell = os.environ.get("SHELL") or "/bin/bash"
    argv = srun_argv(account, chosen, constraint, time_limit, srun_args, shell)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvp(argv[0], argv)
    except OSError as exc:
        raise CommandError(argv, 127, f"cannot run srun: {exc}") from None
    return 0  # not reached: exec replaced this process


sinfo_node_types_main = entry(sinfo_node_types, "sinfo-node-types")
sinteractive_main = entry(sinteractive, "sinteractive")
