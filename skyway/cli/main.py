"""`skyway`: the admin command, with the seed's subcommands."""

from __future__ import annotations

import click

from skyway import __version__
from skyway.cli import billing, cloud, misc, service, slurm
from skyway.cli.app import Obj, entry

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 88}


@click.group(context_settings=CONTEXT)
@click.option(
    "--root",
    metavar="DIR",
    envvar="SKYWAY_ROOT",
    help="Skyway root holding etc/ and state/ [env: SKYWAY_ROOT].",
)
@click.version_option(__version__, prog_name="skyway")
@click.pass_context
def skyway(ctx: click.Context, root: str | None) -> None:
    """Manage Skyway: cloud accounts, billing, services and Slurm.

    Skyway runs Slurm jobs on the group's cloud accounts (AWS, GCP,
    Azure, or the local vendor) through Terraform. Set SKYWAY_DEBUG=1
    to see tracebacks.
    """
    ctx.obj = Obj(root)


skyway.add_command(cloud.cloud)
skyway.add_command(billing.billing)
skyway.add_command(service.service)
skyway.add_command(slurm.slurm)
for command in misc.COMMANDS:
    skyway.add_command(command)

main = entry(skyway, "skyway")
