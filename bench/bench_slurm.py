"""Skyway on the real Slurm: hook latency, merging, submit-to-running.

Runs the lab (the harness's Slurm, the examples with `demo-local` nodes
as network namespaces, plus a 50-node `burst-local` account in record
mode) and measures, in one run:
1. hook latency: how long slurmctld waits for `skyway-resume`, against
   a bare start of the same Python; and how long until the request is
   queued;
2. 50 concurrent one-node resume calls on one account: the Terraform
   runs they took (goal <= 5) and the time until all 50 nodes are up,
   against one call with the 50-node hostlist (goal <= 1.5x);
3. submit-to-running of a one-node batch job on `demo-local`, split
   into Skyway's share (ResumeProgram called -> node up at its address,
   goal <= 2 s) and Slurm's (the rest), and the same for `srun`.
"""

from __future__ import annotations

import datetime as dt
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import func, select  # noqa: E402

from skyway import config as configuration  # noqa: E402
from skyway.db import engine, models  # noqa: E402
from skyway.slurm import hostlists  # noqa: E402
from skyway.slurm.lab import Lab  # noqa: E402

BURST = "burst-local"
COUNT = 50
GOAL_RUNS = 5
GOAL_RATIO = 1.5
GOAL_SHARE = 2.0
BURST_ACCOUNT = {
    "vendor": "local",
    "group": "bench",
    "description": "50 record-mode nodes for the merge benchmark",
    "local": {"mode": "record", "network": "10.199.78.0/24"},
    "nodes": {"c1": COUNT},
    "users": ["root"],
    "budget": {"amount": 100000, "rate": 1000, "start": "2026-01-01"},
}


class Bench:
    """The lab plus what the measurements need from it."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.url = configuration.load(lab.root).database_url
        self.hooks = lab.root / "state" / "slurm" / "bin"

    def hook(self, name: str, hostlist: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(  # noqa: S603 - an argument list
            [str(self.hooks / name), hostlist],
            env=self.lab.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            close_fds=False,  # lets Python use posix_spawn, as fast as
        )  # slurmctld's own fork and exec

    def count(self, account: str, *states: str) -> int:
        with engine.session_scope(self.url) as session:
            table = models.NodeMap
            query = select(func.count()).where(
                table.account == account, table.state.in_(states)
            )
            return int(session.scalar(query) or 0)

    def requests(self) -> int:
        with engine.session_scope(self.url) as session:
            query = select(func.count()).select_from(models.NodeRequest)
            return int(session.scalar(query) or 0)

    def last_run(self) -> int:
        with engine.session_scope(self.url) as session:
            return int(
                session.scalar(select(func.max(models.TerraformRun.id))) or 0
            )

    def runs_since(self, run_id: int, account: str) -> int:
        with engine.session_scope(self.url) as session:
            table = models.TerraformRun
            query = select(func.count()).where(
                table.id > run_id, table.account == account
            )
            return int(session.scalar(query) or 0)

    def wait(self, what: str, ready: object, timeout: float = 300) -> float:
        """Seconds until `ready()` holds, polling every 50 ms."""
        assert callable(ready)
        start = time.monotonic()
        while not ready():
            if time.monotonic() - start > timeout:
                raise SystemExit(f"bench_slurm: timed out waiting for {what}")
            time.sleep(0.05)
        return time.monotonic() - start


def burst_nodes() -> list[str]:
    return [f"{BURST}-c1-{i:03d}" for i in range(1, COUNT + 1)]


def python_start(bench: Bench) -> float:
    start = time.monotonic()
    subprocess.run([sys.executable, "-c", "pass"], check=True)  # noqa: S603
    return time.monotonic() - start


def hook_latency(bench: Bench) -> None:
    """(1) What slurmctld waits for, and until the request is queued."""
    returns, queued, bare = [], [], []
    for node in burst_nodes()[:7]:
        bare.append(python_start(bench))
        before = bench.requests()
        start = time.monotonic()
        bench.hook("skyway-resume", node).wait()
        returns.append(time.monotonic() - start)
        queued.append(
            returns[-1]
            + bench.wait("the request", lambda b=before: bench.requests() > b)
        )
    bench.wait("7 nodes up", lambda: bench.count(BURST, "up") == 7)
    _all_down(bench)
    ret, base = statistics.median(returns), statistics.median(bare)
    print("(1) hook latency, median of 7 resume calls:")
    print(f"    back to slurmctld     {ret:6.3f} s")
    print(f"    bare python start     {base:6.3f} s   ratio {ret / base:4.2f}x")
    print(f"    request queued after  {statistics.median(queued):6.3f} s")


def _all_down(bench: Bench) -> None:
    bench.hook("skyway-suspend", hostlists.compress(burst_nodes())).wait()
    busy = ("resuming", "up", "suspending")
    bench.wait("every node gone", lambda: bench.count(BURST, *busy) == 0)


def merging(bench: Bench) -> None:
    """(2) 50 one-node calls at once against one 50-node call."""
    first = bench.last_run()
    start = time.monotonic()
    bench.hook("skyway-resume", hostlists.compress(burst_nodes())).wait()
    one_call = start_to_up(bench, start)
    one_runs = bench.runs_since(first, BURST)
    _all_down(bench)

    first = bench.last_run()
    start = time.monotonic()
    calls = [bench.hook("skyway-resume", node) for node in burst_nodes()]
    launched = time.monotonic() - start
    for call in calls:
        call.wait()
    returned = time.monotonic() - start
    fifty = start_to_up(bench, start)
    runs = bench.runs_since(first, BURST)
    _all_down(bench)
    ratio = fifty / one_call
    print(f"(2) {COUNT} nodes of {BURST} (record mode):")
    print(f"    one {COUNT}-node call:  {one_call:6.2f} s, {one_runs} run(s)")
    print(
        f"    {COUNT} one-node calls launched in {launched:.2f} s, all "
        f"returned after {returned:.2f} s"
    )
    print(
        f"    {COUNT} one-node calls: {fifty:6.2f} s, {runs} Terraform runs"
        f" (goal <= {GOAL_RUNS}: {'met' if runs <= GOAL_RUNS else 'MISSED'})"
    )
    print(
        f"    ratio {ratio:4.2f}x (goal <= {GOAL_RATIO}x: "
        f"{'met' if ratio <= GOAL_RATIO else 'MISSED'})"
    )


def start_to_up(bench: Bench, start: float) -> float:
    bench.wait("all nodes up", lambda: bench.count(BURST, "up") == COUNT)
    return time.monotonic() - start


STAMP = r"(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)[.,](\d{3})"


def stamp(text: str, pattern: str) -> float | None:
    """The epoch time of the last log line matching `pattern`."""
    found = None
    for line in text.splitlines():
        if re.search(pattern, line):
            match = re.search(STAMP, line)
            if match:
                day, clock, ms = match.groups()
                when = dt.datetime.fromisoformat(f"{day}T{clock}.{ms}")
                found = when.replace(tzinfo=dt.UTC).timestamp()
    return found


def submit_to_running(
    bench: Bench, node: str, interactive: bool
) -> tuple[float, float, float]:
    """(total, Skyway's share, Slurm's share) of one job on a cold node."""
    lab = bench.lab
    submitted = time.time()
    if interactive:
        step = subprocess.Popen(  # noqa: S603 - an argument list
            [
                "srun",
                "-A",
                "demo-local",
                "-p",
                "demo-local",
                "-w",
                node,
                "bash",
                "-c",
                "date +%s.%N",
            ],
            env={**lab.env},
            stdout=subprocess.PIPE,
            text=True,
        )
        out, _ = step.communicate(timeout=300)
        running = float(out.strip())
    else:
        job = lab.command(
            "sbatch",
            "--parsable",
            "-A",
            "demo-local",
            "-p",
            "demo-local",
            "-w",
            node,
            "-o",
            "/dev/null",
            "--wrap",
            "sleep 1",
        ).stdout.strip()
        bench.wait("the job to run", lambda: _running(lab, job), 300)
        running = time.time()
    ctld = (lab.harness.path("log", "slurmctld.log")).read_text()
    called = stamp(ctld, rf"power_save: pid \d+ waking nodes .*{node}")
    # slurmd may register (and the job start) before the worker, still
    # closing its Terraform run, logs the node as up.
    hooks = lab.root / "state" / "log" / "hooks.log"
    bench.wait(
        f"{node} logged as up",
        lambda: stamp(hooks.read_text(), rf"node {node} is up at"),
        60,
    )
    up = stamp(hooks.read_text(), rf"node {node} is up at")
    if called is None or up is None:
        raise SystemExit(f"bench_slurm: no resume/up lines for {node}")
    total = running - submitted
    return total, up - called, total - (up - called)


def _running(lab: Lab, job: str) -> bool:
    out = lab.command("squeue", "-h", "-j", job, "-o", "%T", check=False)
    return out.stdout.strip() == "RUNNING"


def bursts(bench: Bench) -> None:
    """(3) Cold-node jobs on demo-local, each on a node of its own."""
    batch = [
        submit_to_running(bench, f"demo-local-c1-00{i}", False)
        for i in (1, 2, 3)
    ]
    interactive = [
        submit_to_running(bench, f"demo-local-c2-00{i}", True) for i in (1, 2)
    ]
    print("(3) submit to running on a cold demo-local node (netns + slurmd):")
    for label, rows in (("sbatch", batch), ("srun", interactive)):
        total = statistics.median(r[0] for r in rows)
        share = statistics.median(r[1] for r in rows)
        slurm = statistics.median(r[2] for r in rows)
        print(
            f"    {label:6}  total {total:6.2f} s = Skyway {share:5.2f} s "
            f"+ Slurm {slurm:6.2f} s   (median of {len(rows)})"
        )
    worst = max(r[1] for r in batch + interactive)
    print(
        f"    Skyway's share, worst {worst:.2f} s (goal <= {GOAL_SHARE} s: "
        f"{'met' if worst <= GOAL_SHARE else 'MISSED'})"
    )


def main() -> int:
    folder = Path(tempfile.mkdtemp(prefix="skyway-bench-slurm-"))
    lab = Lab(folder, accounts={BURST: BURST_ACCOUNT})
    print(f"bench_slurm: lab in {folder}", flush=True)
    try:
        lab.up()
        bench = Bench(lab)
        warm = f"{BURST}-c1-050"
        bench.hook("skyway-resume", warm).wait()
        bench.wait("the warm-up node", lambda: bench.count(BURST, "up") == 1)
        _all_down(bench)
        hook_latency(bench)
        merging(bench)
        bursts(bench)
    finally:
        lab.down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
