"""The local vendor's node program, as Terraform runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def local_node(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "skyway.vendors.local_node", args[0]]
    argv += ["--root", str(root), "--state-dir", str(root / "state")]
    argv += ["--mode", "record", *args[1:]]
    return subprocess.run(argv, capture_output=True, text=True, check=False)


def test_up_and_down_keep_a_record(tmp_path: Path) -> None:
    record = tmp_path / "state" / "local-nodes" / "demo-local-c1-001.json"

    up = local_node(tmp_path, "up", "demo-local-c1-001", "10.199.77.10")

    assert up.returncode == 0, up.stderr
    assert json.loads(record.read_text())["address"] == "10.199.77.10"

    down = local_node(tmp_path, "down", "demo-local-c1-001", "10.199.77.10")

    assert down.returncode == 0 and not record.exists()
    events = (tmp_path / "state" / "local-nodes" / "events.log").read_text()
    assert [line.split()[1:3] for line in events.splitlines()] == [
        ["up", "start"],
        ["up", "end"],
        ["down", "start"],
        ["down", "end"],
    ]


def test_a_boot_fails_on_purpose(tmp_path: Path) -> None:
    (tmp_path / "state" / "fail-boot").mkdir(parents=True)
    (tmp_path / "state" / "fail-boot" / "demo-local-c1-002").touch()

    result = local_node(tmp_path, "up", "demo-local-c1-002", "10.199.77.11")

    assert result.returncode == 1
    assert "failed on purpose" in result.stderr
    assert not (
        tmp_path / "state" / "local-nodes" / "demo-local-c1-002.json"
    ).exists()


@pytest.mark.parametrize(
    ("name", "address"),
    [("../x", "10.0.0.1"), ("a;b", "10.0.0.1"), ("node-1", "10.0.0.1;x")],
)
def test_hostile_arguments_are_refused(
    tmp_path: Path, name: str, address: str
) -> None:
    result = local_node(tmp_path, "up", name, address)

    assert result.returncode == 2
    assert result.stderr.startswith("local_node: ")
    assert not (tmp_path / "state").exists()
