"""The admin command surface of the seed exists and answers properly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Cli

SEED_COMMANDS = [
    "cloud",
    "billing",
    "service",
    "slurm",
    "misc.db_test",
    "misc.nodes",
    "misc.sendmail",
]


def test_help_lists_every_seed_command(cli: Cli) -> None:
    result = cli("--help")

    assert result.code == 0
    for command in SEED_COMMANDS:
        assert f"  {command} " in result.out


@pytest.mark.parametrize("command", SEED_COMMANDS)
def test_every_command_has_help(cli: Cli, command: str) -> None:
    result = cli(command, "--help")

    assert result.code == 0
    assert "Usage: skyway" in result.out


def test_cloud_lists_the_four_accounts(cli: Cli) -> None:
    result = cli("cloud")

    assert result.code == 0
    lines = result.out.splitlines()
    assert lines[0].split()[:4] == ["account", "vendor", "group", "region"]
    listed = [line.split()[0] for line in lines[2:]]
    assert listed == ["demo-local", "rcc-aws", "rcc-azure", "rcc-gcp"]
    assert "alice, bob, carol" in result.out
    assert "c1:10, c8:4, g1:2" in result.out


def test_db_test_on_every_database(
    cli: Cli, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SKYWAY_DB_URL", db_url)

    first = cli("misc.db_test")
    second = cli("misc.db_test")

    assert first.code == 0, first.err
    assert "migrated from empty" in first.out
    assert "4 accounts added" in first.out
    assert "up to date" in second.out
    assert "synced from YAML" not in second.out
    assert second.out.rstrip().endswith("db_test: OK")


def test_unreachable_database_fails_with_one_line(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "SKYWAY_DB_URL", "mysql+pymysql://nobody@127.0.0.1:9/skyway"
    )

    result = cli("misc.db_test")

    assert result.code == 1
    assert len(result.err.strip().splitlines()) == 1
    assert "127.0.0.1:9" in result.err


def test_misc_nodes_shows_an_empty_map(cli: Cli) -> None:
    result = cli("misc.nodes")

    assert result.code == 0
    assert "(none)" in result.out


def test_unknown_account_is_refused(cli: Cli) -> None:
    result = cli("cloud", "no-such")

    assert result.code == 2
    assert "unknown account 'no-such'" in result.err
    assert "demo-local, rcc-aws" in result.err


def test_console_scripts_are_installed(root: Path) -> None:
    bindir = Path(sys.executable).parent
    for script in (
        "skyway",
        "sinfo-node-types",
        "sinteractive",
        "skyway-resume",
        "skyway-suspend",
        "skyway-resume-fail",
    ):
        done = subprocess.run(
            [str(bindir / script), "--help"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, (script, done.stderr)
        assert "Usage:" in done.stdout


@pytest.mark.parametrize(
    "module", ["skyway.cli.main", "skyway.cli.user", "skyway.cli.hooks"]
)
def test_command_modules_load_no_heavy_library(module: str) -> None:
    """`--help` and the hooks stay quick: the configuration models, the
    database layer and the cloud SDKs load only inside commands."""
    heavy = ["skyway.config", "pydantic", "sqlalchemy", "boto3", "jinja2"]
    probe = (
        f"import sys, {module}; "
        f"print(' '.join(m for m in {heavy!r} if m in sys.modules))"
    )
    loaded = subprocess.run(  # noqa: S603 - a fixed argument list
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()

    assert loaded == []


def test_tables_keep_cell_text_and_right_align_numbers() -> None:
    from skyway.cli.app import table

    rows = [["c1", "0.00", "$1,024.50", 7], ["c8", "12.50", "-", 10]]
    text = table(rows, ["type", "hours", "cost", "nodes"])
    lines = text.splitlines()

    assert lines[2] == "c1         0.00  $1,024.50        7"
    assert lines[3] == "c8        12.50          -       10"
    assert table([["a", "-"]], ["x", "y"]).splitlines()[2] == "a    -"
