"""`skyway slurm`: slurm.conf include, hook wrappers and associations."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from skyway.cli.app import Obj, pass_obj
from skyway.errors import CommandError

if TYPE_CHECKING:
    from skyway.slurm.conf import Wrapper


@click.command()
@click.option(
    "--update-conf",
    is_flag=True,
    help="Write the slurm.conf include and sync associations.",
)
@click.option("--dry-run", is_flag=True, help="Print the difference only.")
@pass_obj
def slurm(obj: Obj, update_conf: bool, dry_run: bool) -> int:
    """Keep Slurm's nodes, partitions and associations in line.

    Without options: where the include is and whether it is current.
    """
    from skyway.slurm import conf

    config = obj.config
    path = conf.include_path(config)
    new = conf.render_include(config, conf.hooks_dir(config))
    if dry_run:
        return _dry_run(obj, path, new)
    if not update_conf:
        current = conf.read(path) == new
        state = "up to date" if current else "differs: run --update-conf"
        click.echo(f"include: {path} ({state})")
        return 0
    return _update(obj, path, new)


def _dry_run(obj: Obj, path: Path, new: str) -> int:
    from skyway.slurm import accounting, conf

    change = conf.diff(conf.read(path), new, path)
    click.echo(change or f"include: {path} (unchanged)", nl=not change)
    for wrapper in _wrappers(obj):
        if conf.read(wrapper.path) != wrapper.text:
            click.echo(f"hook: {wrapper.path} (would be written)")
    try:
        plan = accounting.current_plan(obj.config)
    except CommandError as exc:
        click.echo(f"associations: cannot read them: {exc}")
        return 0
    for line in plan.lines() or ["in line with the accounts' users"]:
        click.echo(f"associations: {line} (dry run)")
    return 0


def _update(obj: Obj, path: Path, new: str) -> int:
    from skyway.slurm import accounting, conf

    written = conf.write(path, new)
    click.echo(f"include: {path} ({'written' if written else 'unchanged'})")
    for wrapper in _wrappers(obj):
        if conf.write(wrapper.path, wrapper.text, mode=0o755):
            click.echo(f"hook: {wrapper.path} (written)")
    conf.spool_dir(obj.config).mkdir(parents=True, exist_ok=True)
    plan = accounting.current_plan(obj.config)
    accounting.apply_plan(obj.config, plan)
    for line in plan.lines() or ["in line with the accounts' users"]:
        click.echo(f"associations: {line}")
    _publish_catalog(obj)
    return _reconfigure(obj, changed=written)


def _wrappers(obj: Obj) -> list[Wrapper]:
    from skyway.slurm import conf

    python = Path(sys.executable)
    return conf.hook_wrappers(obj.config, python, os.environ.get("SLURM_CONF"))


def _publish_catalog(obj: Obj) -> None:
    from skyway import catalog

    with obj.session() as session:
        data = catalog.build(obj.config, session)
    catalog.publish(data, obj.config.catalog_path)
    click.echo(f"catalog: {obj.config.catalog_path} (published)")


def _reconfigure(obj: Obj, changed: bool) -> int:
    from skyway.slurm import scontrol

    if not obj.config.settings.slurm.reconfigure:
        click.echo("reconfigure: skipped (slurm.reconfigure is off)")
        return 0
    if not changed:
        click.echo("reconfigure: not needed")
        return 0
    if not scontrol.ping():
        click.echo("reconfigure: slurmctld is not running; start it")
        return 0
    scontrol.reconfigure()
    click.echo("reconfigure: done (new nodes need a slurmctld restart)")
    return 0
