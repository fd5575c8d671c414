"""An account's workspace: render, init, and targeted plan/apply.

The account's nodes are spread over Terraform workspaces (`default` for
a small account, `s00`, `s01`, ... for a large one), each with its own
small state, so the cost of one node change does not grow with the
number of nodes the account already runs: Terraform reads (and
rewrites) the whole state in each command of a run, at ~3 ms per node
in it. A node's workspace is a stable hash of its name.
"""

from __future__ import annotations

import json
import logging
import math
import zlib
from pathlib import Path
from typing import Any

from skyway.config import Account, Config
from skyway.errors import CommandError
from skyway.terraform import engine as engines
from skyway.terraform import plan as plans
from skyway.terraform import render
from skyway.terraform.runs import RunLog

log = logging.getLogger(__name__)
SHARD_SIZE = 4  # nodes per workspace of a large account, at most
SMALL_ACCOUNT = 8  # up to this many nodes, one plain workspace
HASH_FILE = ".skyway-template-hash"
LAYOUT_FILE = "layout.json"


def engine_for(config: Config) -> engines.Engine:
    """The engine `skyway.yaml` names: bundled unless a binary is given."""
    settings = config.settings.terraform
    return engines.for_settings(
        settings.engine, settings.binary, config.state_dir
    )


def targets_of(resources: tuple[str, ...], node: str) -> list[str]:
    """The Terraform addresses of a node's resources in modules/node."""
    return [f'module.node.{resource}["{node}"]' for resource in resources]


class Workspace:
    """The Terraform workspace folder of one account."""

    def __init__(
        self,
        config: Config,
        account: Account,
        engine: engines.Engine | None = None,
    ) -> None:
        self.config = config
        self.account = account
        self.path = config.state_dir / "workspaces" / account.name
        self.engine = engine or engine_for(config)
        self._selected = ""
        from skyway import vendors

        self.vendor = vendors.get(account.vendor)

    def files(self) -> dict[str, str]:
        """The rendered files, from the vendor's context."""
        context = self.vendor.template_context(self.config, self.account)
        return render.render(self.config, self.account, context)

    def prepare(self, log_to: RunLog | None = None) -> str:
        """Render when the configuration changed, init when needed."""
        files = self.files()
        digest = render.digest(files)
        hash_file = self.path / HASH_FILE
        stale = not hash_file.exists() or hash_file.read_text() != digest
        if stale:
            render.write(self.path, files)
            log.info("rendered workspace %s (%s)", self.path, digest)
        if stale or not (self.path / ".terraform").is_dir():
            self.run("init", ["-input=false", "-no-color"], log_to)
            hash_file.write_text(digest)
            self._selected = ""
        self._relayout_when_empty()
        return digest

    def _relayout_when_empty(self) -> None:
        """Give an account whose limits changed the layout its new size
        calls for, once no node is desired or left in any state: a
        state is never split, so a layout only changes while empty."""
        stored, wanted = self._layout(), self._count_for_limits()
        if stored == wanted:
            return
        if any(self.read_nodes(name) for name in self.workspaces):
            return
        if any(self.state_nodes(name) for name in self.workspaces):
            return
        self._write_layout(wanted)
        self._selected = ""
        log.info(
            "%s: layout of %d workspace(s) now %d (limits changed)",
            self.account.name,
            stored,
            wanted,
        )

    @property
    def workspaces(self) -> list[str]:
        """The Terraform workspaces the account's nodes are spread over."""
        count = self._layout()
        if count == 1:
            return ["default"]
        return [f"s{index:02d}" for index in range(count)]

    def _layout(self) -> int:
        path = self.path / LAYOUT_FILE
        if path.exists():
            return int(json.loads(path.read_text())["workspaces"])
        count = self._count_for_limits()
        self._write_layout(count)
        return count

    def _count_for_limits(self) -> int:
        total = sum(self.account.nodes.values())
        if total <= SMALL_ACCOUNT:
            return 1
        return math.ceil(total / SHARD_SIZE)

    def _write_layout(self, count: int) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"workspaces": count}) + "\n"
        tmp = self.path / f"{LAYOUT_FILE}.tmp"
        tmp.write_text(text)
        tmp.replace(self.path / LAYOUT_FILE)

    def workspace_of(self, node: str) -> str:
        """The workspace that holds `node`: a stable hash of its name."""
        names = self.workspaces
        return names[zlib.crc32(node.encode()) % len(names)]

    def nodes_file(self, workspace: str) -> Path:
        return self.path / "nodes" / f"{workspace}.json"

    def read_nodes(self, workspace: str) -> dict[str, dict[str, str]]:
        path = self.nodes_file(workspace)
        if not path.exists():
            return {}
        data: dict[str, dict[str, str]] = json.loads(path.read_text())
        return data

    def write_nodes(
        self, workspace: str, nodes: dict[str, dict[str, str]]
    ) -> None:
        """Write the desired nodes of one workspace (atomically)."""
        path = self.nodes_file(workspace)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(nodes, indent=1, sort_keys=True) + "\n"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(path)

    def select(self, workspace: str, log_to: RunLog | None = None) -> None:
        if workspace == self._selected:
            return
        current = self.path / ".terraform" / "environment"
        have = current.read_text().strip() if current.exists() else "default"
        if have != workspace:
            self.run(
                "workspace",
                ["select", "-or-create", "-no-color", workspace],
                log_to,
            )
        self._selected = workspace

    def plan(
        self,
        workspace: str,
        out: Path,
        targets: list[str] | None,
        log_to: RunLog | None = None,
    ) -> None:
        """Plan into a file: all nodes, or only `targets` (node names)."""
        self.select(workspace, log_to)
        args = ["-input=false", "-no-color", f"-out={out}"]
        for node in targets or []:
            resources = self.vendor.node_resources
            args += [
                f"-target={where}" for where in targets_of(resources, node)
            ]
        args.append(f"-lock-timeout={self._lock_timeout()}s")
        self.run("plan", args, log_to)

    def show_text(self, workspace: str, plan_file: Path | None = None) -> str:
        """`show -json` of a saved plan, or of the workspace's state."""
        self.select(workspace)
        args = ["-json", "-no-color"]
        if plan_file is not None:
            args.append(str(plan_file))
        return self.run("show", args).stdout or "{}"

    def show(self, workspace: str, plan_file: Path | None = None) -> Any:
        """`show -json`, parsed."""
        return json.loads(self.show_text(workspace, plan_file))

    def apply(
        self, workspace: str, plan_file: Path, log_to: RunLog | None = None
    ) -> tuple[engines.Outcome, plans.ApplyEvents]:
        """Apply a saved plan; the caller decides what a failure means."""
        self.select(workspace, log_to)
        args = ["-json", "-input=false", "-no-color"]
        args += [f"-lock-timeout={self._lock_timeout()}s", str(plan_file)]
        outcome = self.run("apply", args, log_to, check=False)
        return outcome, plans.read_events(outcome.stdout)

    def state_nodes(self, workspace: str) -> dict[str, dict[str, Any]]:
        """The nodes in one workspace's Terraform state."""
        primary = self.vendor.node_resources[0]
        return plans.state_nodes(self.show(workspace), primary)

    def _lock_timeout(self) -> int:
        return min(self.config.settings.terraform.lock_timeout, 60)

    def run(
        self,
        command: str,
        args: list[str],
        log_to: RunLog | None = None,
        check: bool = True,
    ) -> engines.Outcome:
        """Run one Terraform command here; raise CommandError if asked."""
        outcome = self.engine.run(self.path, command, args)
        if log_to is not None:
            log_to.add(outcome)
        if check and not outcome.ok:
            raise CommandError(
                outcome.argv, outcome.returncode, _error_text(outcome)
            )
        return outcome


def _error_text(outcome: engines.Outcome) -> str:
    events = plans.read_events(outcome.stdout)
    if events.errors:
        return "\n".join(events.errors)
    lines = [
        line.strip()
        for line in (outcome.stderr + outcome.stdout).splitlines()
        if line.strip() and not set(line.strip()) <= set("─│╷╵")
    ]
    errors = [line for line in lines if line.startswith("Error")]
    return "\n".join(errors or lines[-3:])
