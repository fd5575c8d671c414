"""The one exception hierarchy of Skyway.

The CLI turns a `SkywayError` into one line on stderr and its `exit_code`:
2 for bad input or configuration, 1 for an operation that failed.
"""

from __future__ import annotations

from collections.abc import Sequence


class SkywayError(Exception):
    """Base of every error Skyway expects and explains to its user."""

    exit_code = 1


class InputError(SkywayError):
    """A value given on the command line is wrong."""

    exit_code = 2


class ConfigError(SkywayError):
    """A configuration file is missing, malformed or inconsistent."""

    exit_code = 2

    def __init__(self, path: str, key: str, problem: str) -> None:
        self.path = path
        self.key = key
        self.problem = problem
        where = f"{path}: {key}" if key else path
        super().__init__(f"{where}: {problem}")


class NotFoundError(InputError):
    """An account, node, run or service that does not exist was named."""


class NotBuiltError(SkywayError):
    """A command whose engine is not part of this release yet."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} is not built yet in this release")


class CommandError(SkywayError):
    """An external program (terraform, scontrol, ssh, ...) failed."""

    def __init__(
        self, argv: Sequence[str], returncode: int, stderr: str
    ) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.stderr = stderr
        last = stderr.strip().splitlines()[-1:] or ["no error output"]
        super().__init__(f"{argv[0]} exited with {returncode}: {last[0]}")


class DatabaseError(SkywayError):
    """The database cannot be reached or is not in the expected state."""


class LockTimeout(SkywayError):
    """Another process holds a lock for longer than we may wait."""


class BudgetError(SkywayError):
    """An action would take an account over its budget or rate cap."""
