"""Login-node commands: `sinfo-node-types` and `sinteractive`."""

from __future__ import annotations

import click

from skyway.cli.app import entry
from skyway.errors import NotBuiltError


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-A", "--account", metavar="ACCOUNT", help="Only this account.")
def sinfo_node_types(account: str | None) -> int:
    """Node types of your cloud accounts: size, price, limits, nodes up."""
    raise NotBuiltError("sinfo-node-types")


@click.command(
    context_settings={
        "help_option_names": ["-h", "--help"],
        "ignore_unknown_options": True,
    }
)
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
    """Start an interactive shell on a cloud node of ACCOUNT."""
    raise NotBuiltError("sinteractive")


sinfo_node_types_main = entry(sinfo_node_types, "sinfo-node-types")
sinteractive_main = entry(sinteractive, "sinteractive")
