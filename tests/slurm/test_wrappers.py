"""The hook wrappers as slurmctld runs them: /bin/sh, a bare environment.

Python is a stub here that writes down how it was called, so each test
sees whether the shell spooled the call itself, started a drainer, or
handed the call to the hook in Python.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from skyway.slurm import conf, spool


class Site:
    def __init__(self, folder: Path) -> None:
        self.spool = folder / "spool"
        self.spool.mkdir()
        self.calls = folder / "python-calls"
        self.python = folder / "bin" / "python"
        self.python.parent.mkdir()
        self.python.write_text(
            f'#!/bin/sh\necho "$*" >> {self.calls}\n',
        )
        self.python.chmod(0o755)
        self.folder = folder

    def run(self, hook: str, *args: str, **env: str) -> int:
        text = conf.render_wrapper(
            hook, self.folder, self.spool, self.python, None
        )
        script = self.folder / f"skyway-{hook}"
        script.write_text(text)
        script.chmod(0o755)
        bare = {"PATH": "/usr/bin:/bin", **env}
        done = subprocess.run(  # noqa: S603 - our own script
            [str(script), *args], env=bare, timeout=30, check=False
        )
        return done.returncode

    def python_calls(self) -> list[str]:
        if not self.calls.exists():
            return []
        return self.calls.read_text().splitlines()


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return Site(tmp_path)


def test_the_shell_spools_a_resume_and_starts_a_drainer(site: Site) -> None:
    resume_file = site.folder / "resume.json"
    resume_file.write_text('{"jobs": [{"job_id": 12}]}\n')
    before = time.time()

    code = site.run(
        "resume", "demo-local-c1-[001-002]", SLURM_RESUME_FILE=str(resume_file)
    )

    assert code == 0
    [(_, call)] = spool.read(site.spool)
    assert call.hook == "resume"
    assert call.hostlist == "demo-local-c1-[001-002]"
    assert before - 0.01 <= call.at <= time.time()
    assert call.resume_text == '{"jobs": [{"job_id": 12}]}\n'
    assert site.python_calls() == ["-S -m skyway.cli.hooks drain"]


def test_no_python_starts_while_a_drainer_runs(site: Site) -> None:
    lock = spool.try_lock(site.spool)
    assert lock is not None
    try:
        for node in ("a-c1-001", "a-c1-002", "a-c1-003"):
            assert site.run("suspend", node) == 0
    finally:
        lock.close()

    calls = spool.read(site.spool)
    assert [(c.hook, c.hostlist) for _, c in calls] == [
        ("suspend", "a-c1-001"),
        ("suspend", "a-c1-002"),
        ("suspend", "a-c1-003"),
    ]
    assert site.python_calls() == []


@pytest.mark.parametrize("hostlist", ["a;b", "$(id)", "../x", "-h", "a b"])
def test_odd_arguments_go_to_python_unspooled(
    site: Site, hostlist: str
) -> None:
    assert site.run("resume-fail", hostlist) == 0

    assert spool.pending(site.spool) == []
    assert site.python_calls() == [
        f"-S -m skyway.cli.hooks resume-fail {hostlist}"
    ]


def test_foreground_and_unwritable_spool_go_to_python(site: Site) -> None:
    site.run("suspend", "a-c1-001", SKYWAY_HOOK_FOREGROUND="1")
    site.spool.rename(site.folder / "moved")
    site.run("suspend", "a-c1-002")

    assert site.python_calls() == [
        "-S -m skyway.cli.hooks suspend a-c1-001",
        "-S -m skyway.cli.hooks suspend a-c1-002",
    ]
    assert os.listdir(site.folder / "moved") == []


def test_a_date_without_nanoseconds_goes_to_python(site: Site) -> None:
    fake = site.python.parent / "date"  # first on the wrapper's PATH
    fake.write_text("#!/bin/sh\necho 1796243400.N\n")
    fake.chmod(0o755)

    assert site.run("suspend", "a-c1-001") == 0

    assert spool.pending(site.spool) == []
    assert site.python_calls() == ["-S -m skyway.cli.hooks suspend a-c1-001"]


def test_the_shipped_example_is_what_update_conf_writes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    example = conf.PACKAGE_HOME / "slurm" / "skyway-hook.sh.example"
    lines = example.read_text().splitlines()
    body = [line for line in lines if not line.startswith("#")]
    packages = "/opt/skyway/venv/lib/python3.11/site-packages"
    monkeypatch.setattr(conf, "PACKAGE_HOME", Path(packages))

    text = conf.render_wrapper(
        "resume",
        Path("/opt/skyway"),
        Path("/opt/skyway/state/slurm/spool"),
        Path("/opt/skyway/venv/bin/python"),
        "/etc/slurm/slurm.conf",
    )

    assert body == [x for x in text.splitlines() if not x.startswith("#")]
