"""Start or stop one node of the local vendor (run by Terraform).

    python -m skyway.vendors.local_node up|down --root ROOT NAME ADDRESS

In `record` mode a node is a record file under the state folder; in
`netns` mode it is also a network namespace running slurmd, started by
`skyway.slurm.netns`. The records are the vendor's own instance list:
a node whose provisioner outlived its worker is still seen there.
`up` fails on purpose while a file `state/fail-boot/NAME` exists, so
a failed boot can be tried for real.
Each start and end is appended to `state/local-nodes/events.log`.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from skyway import names
from skyway.errors import InputError

if TYPE_CHECKING:
    from skyway.config import Config

log = logging.getLogger(__name__)
FAIL_BOOT = "fail-boot"
BOOT_DELAY = "local-boot-delay"


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="skyway.vendors.local_node")
    parser.add_argument("action", choices=["up", "down"])
    parser.add_argument("--root", required=True)
    parser.add_argument("--state-dir")
    parser.add_argument("--mode", choices=["record", "netns"])
    parser.add_argument("name")
    parser.add_argument("address")
    return parser.parse_args(argv)


def event(state_dir: Path, action: str, phase: str, name: str) -> None:
    """One line per start and end, with the Terraform process's pid."""
    folder = state_dir / "local-nodes"
    folder.mkdir(parents=True, exist_ok=True)
    line = f"{time.time():.6f} {action} {phase} {name} {os.getppid()}\n"
    with (folder / "events.log").open("a") as out:
        out.write(line)


def check_boot(state_dir: Path, name: str) -> None:
    """Fail on purpose when asked to; wait when a boot delay is set."""
    fail = state_dir / FAIL_BOOT / name
    if fail.exists():
        raise RuntimeError(f"boot of {name} failed on purpose ({fail} exists)")
    delay = state_dir / BOOT_DELAY
    if delay.exists():
        time.sleep(float(delay.read_text().strip() or 0))


def record_up(state_dir: Path, name: str, address: str) -> None:
    folder = state_dir / "local-nodes"
    folder.mkdir(parents=True, exist_ok=True)
    record = {"name": name, "address": address, "started": time.time()}
    (folder / f"{name}.json").write_text(json.dumps(record) + "\n")


def record_down(state_dir: Path, name: str) -> None:
    (state_dir / "local-nodes" / f"{name}.json").unlink(missing_ok=True)


def records(state_dir: Path) -> dict[str, dict[str, object]]:
    """Every node record on this host, by node name."""
    found: dict[str, dict[str, object]] = {}
    for path in sorted((state_dir / "local-nodes").glob("*.json")):
        try:
            found[path.stem] = json.loads(path.read_text())
        except (OSError, ValueError):
            found[path.stem] = {"name": path.stem}
    return found


def stop(config: Config, account: str, name: str) -> None:
    """Stop a node whose Terraform resource is gone (an orphan)."""
    if settings_mode(config, account) == "netns":
        from skyway.slurm import netns as slurm_netns

        slurm_netns.stop_node(config, account, name)
    record_down(config.state_dir, name)


def settings_mode(config: Config, account: str) -> str:
    local = config.accounts[account].local
    return local.mode if local is not None else "record"


def netns(args: argparse.Namespace) -> None:
    from skyway import config as configuration
    from skyway.slurm import netns as slurm_netns

    config = configuration.load(args.root)
    split = names.split_node(args.name, config.accounts)
    if split is None:
        raise ValueError(f"{args.name} belongs to no configured account")
    account = split[0]
    if args.action == "up":
        slurm_netns.start_node(config, account, args.name, args.address)
    else:
        slurm_netns.stop_node(config, account, args.name)


def state_dir_of(args: argparse.Namespace) -> Path:
    if args.state_dir:
        return Path(args.state_dir)
    from skyway import config as configuration

    return configuration.load(args.root).state_dir


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    try:
        names.check("node", args.name)
        ipaddress.ip_address(args.address)
    except (InputError, ValueError) as exc:
        sys.stderr.write(f"local_node: {exc}\n")
        return 2
    state_dir = state_dir_of(args)
    event(state_dir, args.action, "start", args.name)
    try:
        if args.action == "up":
            check_boot(state_dir, args.name)
        if args.mode == "netns":
            netns(args)
        if args.action == "up":
            record_up(state_dir, args.name, args.address)
        else:
            record_down(state_dir, args.name)
    except Exception as exc:
        sys.stderr.write(f"local_node {args.action} {args.name}: {exc}\n")
        return 1
    finally:
        event(state_dir, args.action, "end", args.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
