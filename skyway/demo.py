"""`make demo`: Skyway on its embedded defaults, step by step.

Sets up a root under state/demo from the shipped examples (SQLite, the
local vendor) and walks through what an admin sees.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import click

from skyway.cli.app import run
from skyway.cli.main import skyway

REPO = Path(__file__).resolve().parents[1]


def step(title: str, *args: str, root: Path) -> int:
    click.secho(f"\n$ skyway {' '.join(args)}", fg="cyan", bold=True)
    click.echo(f"# {title}")
    return run(skyway, "skyway", ["--root", str(root), *args])


def prepare_root(root: Path) -> None:
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    shutil.copytree(REPO / "examples" / "etc", root / "etc")


def main() -> int:
    root = REPO / "state" / "demo"
    prepare_root(root)
    click.echo(f"Skyway demo: root {root} (SQLite, the local vendor)")
    failed = 0
    failed |= step("the cloud accounts from etc/accounts/", "cloud", root=root)
    failed |= step("create the database and sync", "misc.db_test", root=root)
    failed |= step(
        "the node map, empty until nodes run", "misc.nodes", root=root
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
