"""The one way Skyway runs external programs: argument lists, no shell."""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Mapping, Sequence

from skyway.errors import CommandError

log = logging.getLogger(__name__)


def run(
    argv: Sequence[str],
    *,
    check: bool = True,
    timeout: float | None = 120,
    env: Mapping[str, str] | None = None,
    input_text: str | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `argv`; raise CommandError with its stderr when it fails."""
    log.debug("run: %s", " ".join(argv))
    merged = {**os.environ, **env} if env is not None else None
    try:
        result = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            timeout=timeout,
            env=merged,
            input=input_text,
            cwd=cwd,
            check=False,
        )
    except FileNotFoundError:
        raise CommandError(argv, 127, f"{argv[0]}: not found") from None
    except subprocess.TimeoutExpired as exc:
        raise CommandError(
            argv, 124, f"timed out after {exc.timeout:g} s"
        ) from None
    if check and result.returncode != 0:
        raise CommandError(argv, result.returncode, result.stderr)
    return result
