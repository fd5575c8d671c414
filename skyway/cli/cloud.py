"""`skyway cloud`: the accounts, their Terraform runs and their nodes."""

from __future__ import annotations

import click

from skyway.cli.app import Obj, echo_table, pass_obj
from skyway.errors import NotBuiltError


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
def cloud(obj: Obj, /, account: str | None, **options: object) -> int:
    """List cloud accounts, or act on ACCOUNT.

    Without ACCOUNT: a table of every account with its vendor, group,
    region, users and node limits.
    """
    if account is None:
        if any(options.values()):
            raise click.UsageError("these options need an ACCOUNT")
        return list_accounts(obj)
    obj.config.account(account)
    raise NotBuiltError("skyway cloud ACCOUNT (the Terraform engine)")


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
