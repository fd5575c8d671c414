"""`skyway service --unit NAME`: a systemd unit that runs the service."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from skyway.services.unit import quote
from tests.conftest import Cli


def test_unit_runs_the_foreground_service(cli: Cli) -> None:
    result = cli("service", "--unit", "cloud-demo-local")

    assert result.code == 0, result.err
    lines = result.out.splitlines()
    exec_start = next(x for x in lines if x.startswith("ExecStart="))
    assert exec_start == (
        f"ExecStart={sys.executable} -m skyway.services --root {cli.root} "
        "cloud-demo-local"
    )
    assert "Restart=on-failure" in lines
    assert "KillSignal=SIGTERM" in lines
    assert f"Environment=SKYWAY_ROOT={cli.root}" in lines
    assert lines[-1] == "WantedBy=multi-user.target"


def test_unit_quotes_what_systemd_would_split(cli: Cli, tmp_path: Path) -> None:
    odd = tmp_path / "my root 100%"
    shutil.copytree(cli.root / "etc", odd / "etc")
    cli.root = odd

    result = cli("service", "--unit", "billing")

    assert result.code == 0, result.err
    assert f'--root "{tmp_path}/my root 100%%" billing' in result.out
    assert quote('a"b\\c') == '"a\\"b\\\\c"'
    assert quote("plain/path-1.2") == "plain/path-1.2"


def test_unit_of_an_unknown_service_is_refused(cli: Cli) -> None:
    result = cli("service", "--unit", "cloud-../../etc")

    assert result.code == 2
    assert "unknown service" in result.err
    assert result.out == ""
