"""`skyway slurm`: slurm.conf include and Slurm associations."""

from __future__ import annotations

import click

from skyway.cli.app import Obj, pass_obj
from skyway.errors import NotBuiltError


@click.command()
@click.option(
    "--update-conf",
    is_flag=True,
    help="Write the slurm.conf include and sync associations.",
)
@click.option("--dry-run", is_flag=True, help="Print the difference only.")
@pass_obj
def slurm(obj: Obj, update_conf: bool, dry_run: bool) -> int:
    """Keep Slurm's nodes, partitions and associations in line."""
    raise NotBuiltError("skyway slurm")
