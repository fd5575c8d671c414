"""Slurm's power-saving hooks: ResumeProgram, SuspendProgram, ResumeFail."""

from __future__ import annotations

import click

from skyway.cli.app import entry
from skyway.errors import NotBuiltError


@click.command()
@click.argument("hostlist")
def resume(hostlist: str) -> int:
    """Bring up the cloud nodes in HOSTLIST (Slurm's ResumeProgram)."""
    raise NotBuiltError("skyway-resume")


@click.command()
@click.argument("hostlist")
def suspend(hostlist: str) -> int:
    """Destroy the cloud nodes in HOSTLIST (Slurm's SuspendProgram)."""
    raise NotBuiltError("skyway-suspend")


@click.command()
@click.argument("hostlist")
def resume_fail(hostlist: str) -> int:
    """Clean up nodes that failed to boot (Slurm's ResumeFailProgram)."""
    raise NotBuiltError("skyway-resume-fail")


resume_main = entry(resume, "skyway-resume")
suspend_main = entry(suspend, "skyway-suspend")
resume_fail_main = entry(resume_fail, "skyway-resume-fail")
