"""When a local-vendor node may start slurmd, without Slurm running.

slurmctld's rule (validate_node_specs): a powering-up node's
registration counts only if `now - up_time >= boot_req_time`, where
`now` and `boot_req_time` are whole seconds of its clock and `up_time`
is the namespace's boot clock rounded up, as sysinfo(2) gives it.
"""

from __future__ import annotations

import math

import pytest

from skyway.slurm import netns


def _slurm_accepts(resumed: float, zero: float, registered: float) -> bool:
    """Slurm's check, for a boot clock that read zero at wall `zero`."""
    up_time = math.ceil(registered - zero)
    return math.floor(registered) - up_time >= math.floor(resumed)


def _boot_clock_zero(wall: float, boottime: float) -> float:
    """Where `unshare --boottime=-floor(boottime)` puts the node's zero."""
    return wall - (boottime - math.floor(boottime))


@pytest.mark.parametrize("resume_phase", [0.0, 0.3, 0.6, 0.95])
@pytest.mark.parametrize("clock_phase", [0.0, 0.2, 0.5, 0.8, 0.99])
@pytest.mark.parametrize("ready_after", [0.0, 0.4, 0.9])
def test_a_node_started_after_the_wait_is_accepted_however_late_it_registers(
    resume_phase: float, clock_phase: float, ready_after: float
) -> None:
    resumed = 1_800_000_000 + resume_phase
    wall = resumed + ready_after  # when the worker reaches slurmd
    boottime = 86_400 + clock_phase  # the host's boot clock then

    wait = netns.boot_wait(resumed, wall, boottime)
    start = wall + wait + netns.SETTLE
    zero = _boot_clock_zero(start, boottime + wait + netns.SETTLE)

    for delay in (0.0, 0.05, 0.3, 0.7, 0.95, 1.5, 2.2, 7.9):
        assert _slurm_accepts(resumed, zero, start + delay), (wait, delay)
    assert 0 <= wait <= 2


def test_the_old_start_rule_could_be_refused() -> None:
    """Starting at the next wall second with up to half a second on the
    boot clock (the rule before boot_wait) is refused by a slow slurmd."""
    resumed = 1_800_000_000.0
    start = resumed + 1.05
    zero = start - 0.5

    assert not _slurm_accepts(resumed, zero, start + 0.9)
    wait = netns.boot_wait(resumed, start, 86_400.5)
    assert wait > 0


def test_no_wait_long_after_the_resume_or_without_one() -> None:
    assert netns.boot_wait(1000.2, 1005.0, 86_400.7) == 0
    assert netns.boot_wait(None, 1000.0, 86_400.7) == 0
