"""The hooks' spool: calls in arrival order, one drainer at a time."""

from __future__ import annotations

from pathlib import Path

from skyway.slurm import spool


def test_calls_come_out_in_order_once(tmp_path: Path) -> None:
    for index in range(5):
        spool.put(tmp_path, spool.Call("resume", f"a-c1-00{index}", 1.5))

    taken = spool.read(tmp_path)
    spool.done([path for path, _ in taken])

    assert [c.hostlist for _, c in taken] == [f"a-c1-00{i}" for i in range(5)]
    assert spool.read(tmp_path) == []
    assert spool.pending(tmp_path) == []


def test_a_call_keeps_its_time_and_resume_text(tmp_path: Path) -> None:
    text = '{"jobs": [{"job_id": 7}]}\nsecond line\n'
    call = spool.Call("resume", "a-c1-[001-002]", 1796243400.25, text)

    spool.put(tmp_path, call)

    assert [c for _, c in spool.read(tmp_path)] == [call]


def test_unreadable_call_is_dropped_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "00000000000000000001-1.call").write_text("resume\nsoon\n")
    spool.put(tmp_path, spool.Call("suspend", "a-c1-001", 2.0))

    [(path, call)] = spool.read(tmp_path)

    assert call == spool.Call("suspend", "a-c1-001", 2.0)
    assert spool.pending(tmp_path) == [path]


def test_one_drainer_at_a_time(tmp_path: Path) -> None:
    first = spool.try_lock(tmp_path)

    assert first is not None
    assert spool.try_lock(tmp_path) is None
    first.close()
    second = spool.try_lock(tmp_path)
    assert second is not None
    second.close()


def test_a_read_call_stays_until_done(tmp_path: Path) -> None:
    spool.put(tmp_path, spool.Call("resume", "a-c1-001", 1.0))

    [(path, call)] = spool.read(tmp_path)

    assert call.hostlist == "a-c1-001"
    assert spool.pending(tmp_path) == [path]
    spool.done([path])
    assert spool.pending(tmp_path) == []


def test_set_aside_moves_a_call_out_of_the_queue(tmp_path: Path) -> None:
    path = spool.put(tmp_path, spool.Call("resume", "a-c1-001", 1.0))

    place = spool.set_aside(tmp_path, [path])

    assert spool.pending(tmp_path) == []
    assert (place / path.name).exists()
