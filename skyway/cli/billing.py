"""`skyway billing`: budgets, spending and enforcement per account."""

from __future__ import annotations

import click

from skyway.cli.app import Obj, pass_obj
from skyway.errors import NotBuiltError


@click.command()
@click.argument("account", required=False)
@click.option(
    "--set",
    "settings",
    metavar="KEY=VALUE",
    multiple=True,
    help="Set amount=, rate= or start= of the budget.",
)
@click.option(
    "--summary", is_flag=True, help="Hours and cost per type, user and job."
)
@click.option("--since", metavar="DATE", help="Summary from this date.")
@click.option("--until", metavar="DATE", help="Summary up to this date.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
)
@pass_obj
def billing(obj: Obj, /, account: str | None, **options: object) -> int:
    """Show every account's budget and spending, or change one."""
    raise NotBuiltError("skyway billing")
