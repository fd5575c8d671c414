"""`skyway cloud`: the accounts, their Terraform runs and their nodes."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from skyway.cli.app import Obj, confirm, echo_table, pass_obj
from skyway.errors import InputError, NotFoundError, SkywayError

if TYPE_CHECKING:
    from skyway.config import Account

INSTANCE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/\-]{0,127}")
ACTIONS = ("test", "list_", "connect", "rm", "plan", "apply", "history", "show")


def _exec(argv: list[str]) -> int:
    """Replace this process with `argv` (ssh)."""
    os.execvp(argv[0], argv)  # noqa: S606 - an argument list, no shell
    return 0  # pragma: no cover


#: How --connect runs ssh; tests replace it to check the arguments.
exec_argv: Callable[[list[str]], int] = _exec


def progress(text: str) -> None:
    click.echo(f"… {text}", err=True)


@click.command()
@click.argument("account", required=False)
@click.option(
    "--test", is_flag=True, help="Check config, workspace and credentials."
)
@click.option(
    "--ls",
    "list_",
    is_flag=True,
    help="Instances the vendor sees, beside node_map.",
)
@click.option(
    "--connect", metavar="NODE", help="ssh to a cloud or static node."
)
@click.option(
    "--rm", metavar="INSTANCE", help="Destroy one instance (managed or not)."
)
@click.option(
    "--plan", is_flag=True, help="Render the workspace and save a full plan."
)
@click.option(
    "--apply",
    metavar="RUN",
    is_flag=False,
    flag_value="latest",
    default=None,
    help="Apply a saved plan (the latest unless RUN is given).",
)
@click.option(
    "--history", is_flag=True, help="Every Terraform run of the account."
)
@click.option(
    "--show", metavar="RUN", type=int, help="The resource changes of one run."
)
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_obj
def cloud(obj: Obj, /, account: str | None, **options: Any) -> int:
    """List cloud accounts, or act on ACCOUNT.

    Without ACCOUNT: a table of every account with its vendor, group,
    region, users and node limits. With ACCOUNT, one of the options.
    """
    chosen = [name for name in ACTIONS if options[name] not in (None, False)]
    if account is None:
        if chosen or options["yes"]:
            raise click.UsageError("these options need an ACCOUNT")
        return list_accounts(obj)
    settings = obj.config.account(account)
    if len(chosen) != 1:
        flags = (
            "--test, --ls, --connect, --rm, --plan, --apply, --history, --show"
        )
        raise click.UsageError(f"expected exactly one of: {flags}")
    action = chosen[0]
    handler = HANDLERS[action]
    return handler(obj, settings, options[action], options["yes"])


def list_accounts(obj: Obj) -> int:
    rows = []
    for account in sorted(obj.config.accounts.values(), key=lambda a: a.name):
        limits = ", ".join(f"{t}:{n}" for t, n in sorted(account.nodes.items()))
        rows.append(
            (
                account.name,
                account.vendor,
                account.group,
                account.region,
                ", ".join(account.users) or "-",
                limits,
            )
        )
    echo_table(
        rows, ["account", "vendor", "group", "region", "users", "node limits"]
    )
    return 0


def check_instance(value: str) -> str:
    if not INSTANCE_RE.fullmatch(value):
        raise InputError(
            f"invalid instance id {value!r}: expected letters, digits and "
            "'._:/-', at most 128 characters"
        )
    return value


def test(obj: Obj, account: Account, _: object, __: bool) -> int:
    """Configuration, workspace rendering and parsing, credentials."""
    from skyway import vendors
    from skyway.terraform import check

    click.echo(f"✓ configuration of {account.name} is valid")
    failed = 0
    try:
        digest = check.render_and_parse(obj.config, account)
        click.echo(f"✓ workspace renders (template {digest}) and parses")
    except Exception as exc:
        click.echo(f"✗ workspace: {exc}")
        failed = 1
    vendor = vendors.get(account.vendor)
    try:
        who = vendor.check_credentials(obj.config, account)
        click.echo(f"✓ credentials: {who}")
    except Exception as exc:
        click.echo(f"✗ credentials: {exc}")
        failed = 1
    return failed


def list_instances(obj: Obj, account: Account, _: object, __: bool) -> int:
    """The vendor's instances beside node_map, flagging differences."""
    from skyway import vendors
    from skyway.vendors import inventory

    progress(f"asking {account.vendor} for the instances of {account.name}")
    seen = vendors.get(account.vendor).list_instances(obj.config, account)
    with obj.session() as session:
        rows = inventory.compare_instances(session, account.name, seen)
    echo_table(
        [astuple(row) for row in rows],
        ["instance", "node", "vendor state", "address", "node_map", "note"],
    )
    return 1 if any(row.note for row in rows) else 0


def astuple(row: Any) -> tuple[Any, ...]:
    from dataclasses import astuple as as_tuple

    return as_tuple(row)


def connect(obj: Obj, account: Account, node: str, _: bool) -> int:
    """ssh to a cloud node (from node_map) or a static node."""
    from skyway.vendors import inventory

    with obj.session() as session:
        argv = inventory.ssh_argv(obj.config, session, account, node)
    progress(" ".join(argv))
    return exec_argv(argv)


def remove(obj: Obj, account: Account, instance: str, yes: bool) -> int:
    """Destroy a managed instance by a targeted run, or an unknown one."""
    from skyway import nodes
    from skyway.vendors import inventory

    check_instance(instance)
    with obj.session() as session:
        node = inventory.managed_node(session, account.name, instance)
    if node is not None:
        confirm(f"Destroy node {node} ({instance}) of {account.name}?", yes)
        with obj.session() as session:
            nodes.request(
                session,
                account.name,
                [node],
                "remove",
                trigger=f"admin:{obj.who}",
                reason=f"removed by {obj.who}",
            )
        progress(f"destroying {node} with a targeted run")
        result = nodes.work(obj.config, account.name)
        if node in result.failed:
            raise SkywayError(f"{node}: {result.failed[node]}")
        click.echo(f"✓ {node} ({instance}) destroyed; runs {result.runs}")
        return 0
    return _remove_unknown(obj, account, instance, yes)


def _remove_unknown(
    obj: Obj, account: Account, instance: str, yes: bool
) -> int:
    from skyway import vendors
    from skyway.vendors import inventory

    vendor = vendors.get(account.vendor)
    seen = {i.id: i for i in vendor.list_instances(obj.config, account)}
    if instance not in seen:
        raise NotFoundError(
            f"no instance {instance!r} in {account.name} (see --ls)"
        )
    confirm(
        f"{instance} is not managed by Skyway; terminate it through "
        f"{account.vendor}'s API?",
        yes,
    )
    vendor.terminate(obj.config, account, instance)
    with obj.session() as session:
        inventory.journal_unmanaged(
            session, account.name, seen[instance], obj.who
        )
    click.echo(f"✓ {instance} terminated (it was not managed by Skyway)")
    return 0


def plan(obj: Obj, account: Account, _: object, __: bool) -> int:
    """A full plan of the account, saved and recorded for --apply."""
    from skyway import locks, nodes
    from skyway.terraform import admin
    from skyway.terraform import plan as plans

    lock = locks.account_lock(obj.config, account.name, timeout=0)
    with lock, obj.session() as session:
        desired = nodes.desired_nodes(session, account.name)
        run = admin.full_plan(
            session, obj.config, account.name, desired, obj.who, progress
        )
        summary = run.row.summary
    nodes.wake_if_pending(obj.config, account.name)
    click.echo(f"✓ run {run.id} planned: {plans.describe(summary)}")
    _echo_changes(summary)
    click.echo(f"  plan and log in {run.dir}")
    click.echo(f"  apply it with: skyway cloud {account.name} --apply {run.id}")
    return 0


def apply(obj: Obj, account: Account, which: str, yes: bool) -> int:
    """Apply a saved plan after confirmation."""
    from skyway import locks, nodes
    from skyway.terraform import admin
    from skyway.terraform import plan as plans
    from skyway.vendors import inventory

    with obj.session() as session:
        row = admin.planned_run(session, account.name, which)
        click.echo(f"run {row.id}: {plans.describe(row.summary)}")
        _echo_changes(row.summary)
    confirm(f"Apply the saved plan of run {row.id}?", yes)
    lock = locks.account_lock(obj.config, account.name, timeout=0)
    with lock, obj.session() as session:
        row = admin.planned_run(session, account.name, str(row.id))
        run, outputs = admin.apply_saved(
            session, obj.config, row, obj.who, progress
        )
        inventory.refresh_instances(session, account.name, outputs)
        status, error = run.row.status, run.row.error
    nodes.wake_if_pending(obj.config, account.name)
    if status != "applied":
        raise SkywayError(f"run {run.id} failed: {error} (log: {run.dir})")
    click.echo(f"✓ run {run.id} applied the plan of run {row.id}")
    return 0


def history(obj: Obj, account: Account, _: object, __: bool) -> int:
    """Every run: when, what, who asked, the summary, the outcome."""
    from skyway.terraform import runs

    with obj.session() as session:
        rows = runs.history(session, account.name)
    echo_table(
        rows,
        [
            "run",
            "started (UTC)",
            "action",
            "trigger",
            "by",
            "nodes",
            "changes",
            "status",
            "exit",
            "seconds",
        ],
    )
    return 0


def show(obj: Obj, account: Account, run_id: int, _: bool) -> int:
    """One run in full: who, what, where its plan and log are."""
    from skyway.terraform import admin, runs
    from skyway.terraform import plan as plans

    with obj.session() as session:
        row = admin.find_run(session, account.name, str(run_id))
        folder = row.run_dir or "-"
        if row.run_dir and not runs.files_kept(row):
            folder += " (removed: past terraform.keep_run_files_days)"
        fields = [
            ("action", row.action),
            ("trigger", row.trigger),
            ("by", row.triggered_by or "-"),
            ("jobs", row.jobs or "-"),
            ("nodes", row.nodes or "-"),
            ("template", row.template_hash or "-"),
            ("started", str(row.started_at)),
            ("status", f"{row.status} (exit {row.exit_code})"),
            ("seconds", str(row.duration)),
            ("changes", plans.describe(row.summary or {})),
            ("folder", folder),
        ]
        if row.error:
            fields.append(("error", row.error))
        summary = row.summary or {}
    click.echo(f"run {run_id} of {account.name}")
    for key, value in fields:
        click.echo(f"  {key + ':':10} {value}")
    _echo_changes(summary)
    return 0


def _echo_changes(summary: dict[str, Any]) -> None:
    resources = summary.get("resources") or []
    if resources:
        echo_table(
            [
                (
                    r.get("workspace", "default"),
                    "+".join(r["actions"]),
                    r["address"],
                )
                for r in resources
            ],
            ["workspace", "action", "resource"],
        )


HANDLERS: dict[str, Callable[[Obj, Account, Any, bool], int]] = {
    "test": test,
    "list_": list_instances,
    "connect": connect,
    "rm": remove,
    "plan": plan,
    "apply": apply,
    "history": history,
    "show": show,
}
