"""The real Slurm for the end-to-end tests: one for all of tests/e2e.

Only one Slurm can run on a host at a time, so the harness holds a lock
file while it runs and parallel sessions wait for each other.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from skyway.slurm import scontrol
from skyway.slurm.lab import Lab
from tests.conftest import IN_CI

ACCOUNT = "demo-local"
LOG_TAIL = 80


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Iterator[None]:
    """A failed end-to-end test shows what Slurm and Skyway logged.

    CI keeps only the console, so the queue, the nodes and the tails of
    the hooks', workers' and daemons' logs go into the report.
    """
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    lab = getattr(item, "funcargs", {}).get("lab")
    if report.when != "call" or not report.failed or lab is None:
        return
    for title, argv in (
        ("squeue", ["squeue", "-a", "-o", "%i %u %T %r %N"]),
        ("sinfo", ["sinfo", "-N", "-h", "-o", "%N %T %E"]),
    ):
        out = lab.command(*argv, check=False)
        report.sections.append((title, out.stdout + out.stderr))
    for path in _logs(lab):
        lines = path.read_text(errors="replace").splitlines()[-LOG_TAIL:]
        report.sections.append((f"tail of {path.name}", "\n".join(lines)))


def _logs(lab: Lab) -> list[Path]:
    state = lab.root / "state"
    folders = (state / "log", lab.folder / "slurm" / "log")
    return [path for folder in folders for path in sorted(folder.glob("*.log"))]


@pytest.fixture(scope="package")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """A Skyway root with a running Slurm whose cloud nodes are netns.

    Package scope: Slurm stops (and SLURM_CONF goes) once the last test
    of tests/e2e has run, so no later test sees a Slurm by accident.
    """
    if os.geteuid() != 0:
        if IN_CI:
            pytest.fail("the Slurm tests need root in CI")
        pytest.skip("the Slurm tests need root")
    site = Lab(tmp_path_factory.mktemp("lab"))
    try:
        site.up()
        yield site
    finally:
        site.down()


def wait_until(
    what: str, ready: Callable[[], object], timeout: float = 120
) -> object:
    """Poll until `ready()` is truthy; fail the test after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = ready()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.5)


def node_state(node: str) -> str:
    return scontrol.node_states([node]).get(node, "")


def job_state(lab: Lab, job: str) -> str:
    """The job's state from sacct (it outlives squeue's memory)."""
    out = lab.command("sacct", "-X", "-n", "-P", "-j", job, "-o", "State")
    return out.stdout.strip().split("\n")[0].split(" ")[0]


def reset_node(lab: Lab, node: str) -> None:
    """Put a DOWN or failed node back to powered-down idle (`idle~`)."""
    lab.command("scontrol", "update", f"nodename={node}", "state=resume")
    lab.command(
        "scontrol", "update", f"nodename={node}", "state=power_down_force"
    )
    wait_until(f"{node} back to idle~", lambda: node_state(node) == "idle~")


def hooks_log(lab: Lab) -> str:
    path = lab.root / "state" / "log" / "hooks.log"
    return path.read_text() if path.exists() else ""


def root_of(lab: Lab) -> Path:
    return lab.root
