"""The slurm.conf include and the hook wrappers, compared as text."""

from __future__ import annotations

from pathlib import Path

import yaml

from skyway import config
from skyway.slurm import conf
from tests.conftest import Cli


def _load(root: Path, **slurm: object) -> config.Config:
    settings = yaml.safe_load((root / "etc" / "skyway.yaml").read_text())
    settings["slurm"] = {**settings.get("slurm", {}), **slurm}
    (root / "etc" / "skyway.yaml").write_text(yaml.safe_dump(settings))
    return config.load(root)


def test_node_lines_carry_size_features_and_placeholder(root: Path) -> None:
    text = conf.render_include(config.load(root), Path("/hooks"))

    assert (
        "NodeName=demo-local-c1-[001-004] NodeAddr=127.0.0.1 Port=6820 "
        "CPUs=1 RealMemory=972 Feature=c1,local,demo-local State=CLOUD"
    ) in text.splitlines()
    assert (
        "NodeName=rcc-aws-g1-[001-002] NodeAddr=127.0.0.1 Port=6820 CPUs=8 "
        "RealMemory=59340 Gres=gpu:v100:1 Feature=g1,aws,rcc-aws State=CLOUD"
    ) in text.splitlines()
    assert "GresTypes=gpu" in text.splitlines()


def test_one_partition_per_account_only_it_may_use(root: Path) -> None:
    lines = conf.render_include(config.load(root), Path("/h")).splitlines()
    partitions = [line for line in lines if line.startswith("PartitionName=")]

    assert len(partitions) == 4
    assert (
        "PartitionName=demo-local Nodes=demo-local-c1-[001-004],"
        "demo-local-c2-[001-002] AllowAccounts=demo-local MaxTime=INFINITE "
        "State=UP"
    ) in partitions


def test_power_saving_points_at_hooks_with_settings(root: Path) -> None:
    cfg = _load(
        root,
        suspend_time=42,
        resume_timeout=99,
        static_nodes=["login1", "login2"],
    )
    lines = conf.render_include(cfg, Path("/opt/hooks")).splitlines()

    assert "ResumeProgram=/opt/hooks/skyway-resume" in lines
    assert "SuspendProgram=/opt/hooks/skyway-suspend" in lines
    assert "ResumeFailProgram=/opt/hooks/skyway-resume-fail" in lines
    assert "SuspendTime=42" in lines
    assert "ResumeTimeout=99" in lines
    assert "SuspendExcNodes=login[1-2]" in lines


def test_no_static_nodes_no_exclusion(root: Path) -> None:
    text = conf.render_include(config.load(root), Path("/h"))

    assert "SuspendExcNodes" not in text


def test_rendering_is_stable(root: Path) -> None:
    cfg = config.load(root)

    assert conf.render_include(cfg, Path("/h")) == conf.render_include(
        cfg, Path("/h")
    )


def test_wrapper_names_root_conf_and_hook(root: Path) -> None:
    cfg = config.load(root)
    wrappers = conf.hook_wrappers(
        cfg, Path("/venv/bin/python"), "/etc/slurm x/slurm.conf"
    )
    by_name = {w.path.name: w.text for w in wrappers}

    assert sorted(by_name) == [
        "skyway-resume",
        "skyway-resume-fail",
        "skyway-suspend",
    ]
    text = by_name["skyway-resume-fail"]
    assert text.startswith("#!/bin/sh\n")
    assert f"SKYWAY_ROOT={root}" in text
    assert "SLURM_CONF='/etc/slurm x/slurm.conf'; export SLURM_CONF" in text
    assert text.rstrip().endswith(
        'exec /venv/bin/python -S -m skyway.cli.hooks resume-fail "$@"'
    )


def test_write_reports_change_only_once(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "skyway.conf"

    assert conf.write(target, "a\n") is True
    assert conf.write(target, "a\n") is False
    assert conf.write(target, "b\n") is True
    assert target.read_text() == "b\n"


def test_diff_shows_added_and_removed_lines(tmp_path: Path) -> None:
    text = conf.diff("x=1\ny=2\n", "x=1\ny=3\n", tmp_path / "f")

    assert "-y=2" in text
    assert "+y=3" in text


def test_update_conf_dry_run_writes_nothing(cli: Cli, root: Path) -> None:
    result = cli("slurm", "--dry-run")

    assert result.code == 0
    assert "+NodeName=demo-local-c1-[001-004]" in result.out
    assert not (root / "state" / "slurm" / "skyway.conf").exists()


def test_status_without_options_says_differs(cli: Cli, root: Path) -> None:
    result = cli("slurm")

    assert result.code == 0
    assert "differs: run --update-conf" in result.out
