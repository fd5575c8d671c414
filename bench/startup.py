"""Start-up cost of the user and admin commands against a bare Click.

Runs each command REPEAT times, alternating, and prints the median wall
time and its ratio to `python -c "import click"` measured in the same
run. Goal: both ratios at most 1.5 (cloud SDKs load only where used).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

REPEAT = 21
GOAL = 1.5
BIN = Path(sys.executable).parent

COMMANDS = {
    "bare click": [sys.executable, "-c", "import click"],
    "sinfo-node-types --help": [str(BIN / "sinfo-node-types"), "--help"],
    "skyway --help": [str(BIN / "skyway"), "--help"],
}


def once(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def measure() -> dict[str, float]:
    samples: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for argv in COMMANDS.values():
        once(argv)  # warm the page cache
    for _ in range(REPEAT):
        for name, argv in COMMANDS.items():
            samples[name].append(once(argv))
    return {name: statistics.median(times) for name, times in samples.items()}


def main() -> int:
    medians = measure()
    base = medians["bare click"]
    print(f"{'command':<26}{'median ms':>10}{'ratio':>8}  goal <= {GOAL}")
    worst = 0.0
    for name, median in medians.items():
        ratio = median / base
        if name != "bare click":
            worst = max(worst, ratio)
        print(f"{name:<26}{median * 1000:>10.1f}{ratio:>8.2f}")
    verdict = "met" if worst <= GOAL else "MISSED"
    print(f"worst ratio {worst:.2f}: goal {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
