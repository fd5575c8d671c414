"""Local-vendor nodes that behave like cloud VMs: a network namespace each.

A node gets a namespace `sky-<node>` with a veth on a host bridge and
its own address, and runs its own slurmd there. slurmctld ignores a
registration from a node that booted before it was resumed, so slurmd
starts in a fresh time namespace whose clock starts at zero (the host's
long uptime would claim an old boot), at an instant Slurm counts as
after its resume request (`boot_wait`). (`ip netns exec` is avoided: it
remounts /sys without cgroups, which slurmd needs; `nsenter --net`
keeps them.)"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import logging
import math
import time
from pathlib import Path

from skyway import names
from skyway.config import Config, LocalIds
from skyway.errors import CommandError, InputError
from skyway.runner import run
from skyway.slurm import scontrol

log = logging.getLogger(__name__)
NETNS_DIR = Path("/run/netns")
PREFIX = "sky-"
SETTLE = 0.005  # past the boot clock's whole second, not just at it
DEFAULT_BRIDGE = "skybr0"
DEFAULT_NETWORK = LocalIds().network


def namespace(node: str) -> str:
    """The namespace of a node: `sky-<node>`."""
    return PREFIX + names.check("node", node)


def bridge_name(network: str) -> str:
    """The host bridge of a local network (at most 15 characters)."""
    if network == DEFAULT_NETWORK:
        return DEFAULT_BRIDGE
    return "skybr-" + hashlib.sha1(network.encode()).hexdigest()[:8]


def gateway(network: str) -> ipaddress.IPv4Interface:
    """The host's address on a local network: its first host address."""
    net = ipaddress.IPv4Network(network)
    return ipaddress.IPv4Interface(f"{next(net.hosts())}/{net.prefixlen}")


def ensure_bridge(network: str = DEFAULT_NETWORK) -> str:
    """Create the host bridge of `network` with its gateway, once."""
    bridge = bridge_name(network)
    shown = run(["ip", "-br", "addr", "show", "dev", bridge], check=False)
    if shown.returncode != 0:
        run(["ip", "link", "add", bridge, "type", "bridge"])
    address = str(gateway(network))
    if address not in shown.stdout.split():
        run(["ip", "addr", "replace", address, "dev", bridge])
    run(["ip", "link", "set", bridge, "up"])
    return bridge


def remove_bridge(network: str = DEFAULT_NETWORK) -> None:
    """Remove the host bridge of `network` if it exists."""
    run(["ip", "link", "del", bridge_name(network)], check=False)


def running() -> list[str]:
    """Nodes that have a namespace now."""
    if not NETNS_DIR.is_dir():
        return []
    return sorted(
        path.name.removeprefix(PREFIX)
        for path in NETNS_DIR.iterdir()
        if path.name.startswith(PREFIX)
    )


def start_node(config: Config, account: str, name: str, address: str) -> None:
    """Boot node `name` at `address`: namespace, veth, then slurmd."""
    network = _network(config, account)
    interface = _interface(address, network)
    if name in running():
        stop_node(config, account, name)
    bridge = ensure_bridge(network)
    try:
        _plumb(namespace(name), _veth(name), bridge, interface)
        scontrol.set_address(name, str(interface.ip))
        _start_slurmd(config, name)
    except CommandError:
        teardown(name)
        raise
    log.info("node %s booted at %s", name, interface.ip)


def stop_node(config: Config, account: str, name: str) -> None:
    """Stop node `name` and give Slurm its placeholder address back."""
    teardown(name)
    placeholder = config.settings.slurm.placeholder_address
    try:
        scontrol.set_address(name, placeholder)
    except CommandError as exc:
        log.warning("cannot reset %s's address: %s", name, exc)
    log.info("node %s stopped", name)


def teardown(name: str) -> None:
    """Stop a node's processes, remove its namespace and its veth."""
    ns = namespace(name)
    if (NETNS_DIR / ns).exists():
        _kill_all(ns)
        run(["ip", "netns", "del", ns], check=False)
    run(["ip", "link", "del", _veth(name)], check=False)


def _network(config: Config, account: str) -> str:
    ids = config.account(account).ids
    if not isinstance(ids, LocalIds):
        raise InputError(f"account {account} is not on the local vendor")
    return ids.network


def _interface(address: str, network: str) -> ipaddress.IPv4Interface:
    net = ipaddress.IPv4Network(network)
    try:
        ip = ipaddress.IPv4Address(address)
    except ValueError:
        raise InputError(
            f"bad node address {address!r}; expected IPv4 in {network}"
        ) from None
    if ip not in net or ip == gateway(network).ip:
        raise InputError(
            f"node address {address} is not a free host address of {network}"
        )
    return ipaddress.IPv4Interface(f"{ip}/{net.prefixlen}")


def _veth(node: str) -> str:
    """The host side of a node's veth (interface names stop at 15)."""
    return "skv" + hashlib.sha1(node.encode()).hexdigest()[:10]


def _plumb(
    ns: str, veth: str, bridge: str, interface: ipaddress.IPv4Interface
) -> None:
    run(["ip", "netns", "add", ns])
    run(["ip", "link", "del", veth], check=False)
    peer = ["peer", "name", "eth0", "netns", ns]
    run(["ip", "link", "add", veth, "type", "veth", *peer])
    run(["ip", "link", "set", veth, "master", bridge, "up"])
    run(["ip", "-n", ns, "addr", "add", str(interface), "dev", "eth0"])
    run(["ip", "-n", ns, "link", "set", "eth0", "up"])
    run(["ip", "-n", ns, "link", "set", "lo", "up"])


def boot_wait(resumed: float | None, wall: float, boottime: float) -> float:
    """Seconds to wait before a node may start slurmd, for Slurm to take it.

    slurmctld takes a node's boot time to be its clock's second minus
    the uptime slurmd reports (the kernel rounds it up), and ignores a
    registration whose boot time falls before the second in which it
    asked for the resume. slurmd starts in a time namespace whose clock
    reads zero at the last whole second of the host's boot clock, and
    that instant is the boot Slurm computes, however long slurmd takes
    to register. So it must fall in a second after the resume request:
    the first whole boot-clock second that does is the earliest start.
    `wall` and `boottime` are the two clocks read at one moment.
    """
    if resumed is None:
        return 0.0
    zero = wall - boottime  # the wall time at boot clock zero
    first = math.ceil(math.floor(resumed) + 1 - zero)
    return max(0.0, first - boottime)


def _resume_requested(config: Config, node: str) -> dt.datetime | None:
    """When the node's latest resume request was queued, if ever."""
    from sqlalchemy import select

    from skyway.db import engine, models

    table = models.NodeRequest
    query = (
        select(table.requested_at)
        .where(table.node == node, table.action == "resume")
        .order_by(table.id.desc())
        .limit(1)
    )
    with engine.session_scope(config.database_url) as session:
        return session.scalar(query)


def _start_slurmd(config: Config, node: str) -> None:
    """slurmd daemonizes, so this returns once it has forked away."""
    requested = _resume_requested(config, node)
    resumed = None
    if requested is not None:
        resumed = requested.replace(tzinfo=dt.UTC).timestamp()
    wait = boot_wait(resumed, time.time(), _boottime())
    if wait > 0:
        log.info("node %s waits %.2f s for Slurm's next second", node, wait)
        time.sleep(wait + SETTLE)
    run(
        [
            "nsenter",
            f"--net={NETNS_DIR / namespace(node)}",
            "unshare",
            "--time",
            f"--boottime=-{math.floor(_boottime())}",
            "slurmd",
            "-N",
            node,
        ],
        timeout=60,
    )


def _boottime() -> float:
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def _kill_all(ns: str, grace: float = 5.0) -> None:
    """Stop every process in a namespace: TERM, then KILL after `grace`."""
    for signal in ("TERM", "KILL"):
        pids = _pids(ns)
        if not pids:
            return
        run(["kill", f"-{signal}", *pids], check=False)
        deadline = time.monotonic() + grace
        while _pids(ns) and time.monotonic() < deadline:
            time.sleep(0.1)


def _pids(ns: str) -> list[str]:
    result = run(["ip", "netns", "pids", ns], check=False)
    return result.stdout.split()
