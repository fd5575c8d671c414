"""A whole Skyway site on one host: a root, a real Slurm, netns nodes.

The demo, the end-to-end tests and the benchmarks share it: a root made
from the shipped examples with the local vendor's nodes as network
namespaces and short power-saving timeouts, the harness's Slurm, and
`skyway slurm --update-conf` run between slurmdbd and slurmctld so the
nodes, partitions, hooks and associations are Skyway's own.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from skyway.runner import run
from skyway.slurm.harness import Harness

log = logging.getLogger(__name__)
REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "etc"
LOCAL_ACCOUNT = "demo-local"
QUICK = {
    "suspend_time": 10,
    "suspend_timeout": 10,
    "resume_timeout": 40,
    "reconfigure": False,
}


def prepare_root(
    root: Path,
    host: str,
    examples: Path = EXAMPLES,
    accounts: dict[str, dict[str, Any]] | None = None,
    **slurm: Any,
) -> Path:
    """A fresh root: the examples, netns nodes, quick power saving.

    `accounts` adds account files (name -> the YAML's content).
    """
    if root.exists():
        shutil.rmtree(root)
    shutil.copytree(examples, root / "etc")
    settings_file = root / "etc" / "skyway.yaml"
    settings = yaml.safe_load(settings_file.read_text()) or {}
    settings["slurm"] = {
        **settings.get("slurm", {}),
        **QUICK,
        "static_nodes": [host],
        **slurm,
    }
    settings_file.write_text(yaml.safe_dump(settings, sort_keys=False))
    account_file = root / "etc" / "accounts" / f"{LOCAL_ACCOUNT}.yaml"
    account = yaml.safe_load(account_file.read_text())
    account["local"] = {**account.get("local", {}), "mode": "netns"}
    account_file.write_text(yaml.safe_dump(account, sort_keys=False))
    for name, content in (accounts or {}).items():
        path = root / "etc" / "accounts" / f"{name}.yaml"
        path.write_text(yaml.safe_dump(content, sort_keys=False))
    return root


class Lab:
    """A root and its Slurm; `up()` then `down()`, by pid."""

    def __init__(
        self,
        folder: Path,
        accounts: dict[str, dict[str, Any]] | None = None,
        **slurm: Any,
    ) -> None:
        self.folder = folder.resolve()
        self.accounts = accounts
        self.root = self.folder / "root"
        self.harness = Harness(
            self.folder / "slurm",
            include=self.root / "state" / "slurm" / "skyway.conf",
        )
        self.slurm_settings = slurm

    @property
    def env(self) -> dict[str, str]:
        """What a shell needs to act as this site's admin or user."""
        bin_dir = str(Path(sys.executable).parent)
        path = os.environ.get("PATH", "/usr/bin:/bin")
        return {
            "SKYWAY_ROOT": str(self.root),
            "SLURM_CONF": str(self.harness.conf),
            "PATH": f"{bin_dir}:{path}",
            "TF_CLI_CONFIG_FILE": os.devnull,
            "CHECKPOINT_DISABLE": "1",
        }

    def up(self) -> None:
        """Everything, in order: root, slurmdbd, the include, slurmctld."""
        self.prepare()
        self.harness.start_accounting()
        self.skyway("slurm", "--update-conf")
        self.harness.start_controller()

    def prepare(self) -> None:
        """Take the host's Slurm lock and write a fresh root."""
        self.harness.lock()
        prepare_root(
            self.root,
            self.harness.host,
            accounts=self.accounts,
            **self.slurm_settings,
        )

    def down(self) -> None:
        try:
            self.harness.stop()
        finally:
            self.harness.unlock()

    def skyway(self, *args: str, check: bool = True) -> str:
        """Run the `skyway` command of this environment on this root."""
        program = str(Path(sys.executable).parent / "skyway")
        result = run([program, *args], env=self.env, check=check, timeout=300)
        return result.stdout + result.stderr

    def command(
        self, *argv: str, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run a Slurm or user command against this site."""
        return run(argv, env=self.env, check=check, timeout=timeout)
