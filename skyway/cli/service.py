"""`skyway service`: the long-running account workers and billing loop."""

from __future__ import annotations

import click

from skyway.cli.app import Obj, pass_obj
from skyway.errors import NotBuiltError


@click.command()
@click.option(
    "--status", is_flag=True, help="Every service with its heartbeat."
)
@click.option(
    "--regist", metavar="NAME", help="Register cloud-ACCOUNT or billing."
)
@click.option("--start", metavar="NAME", help="Start a registered service.")
@click.option("--stop", metavar="NAME", help="Stop a running service.")
@click.option("--restart", metavar="NAME", help="Stop, then start a service.")
@click.option(
    "--unit", metavar="NAME", help="Print a systemd unit for a service."
)
@pass_obj
def service(obj: Obj, /, **options: object) -> int:
    """List and control Skyway's services (cloud-ACCOUNT, billing)."""
    raise NotBuiltError("skyway service")
