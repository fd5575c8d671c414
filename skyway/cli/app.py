"""What every entry point shares: error handling, the root, output.

Expected errors become one line on stderr and an exit code (2 for bad
input or configuration, 1 for a failed operation); anything else is a
crash, exit 3, with the traceback in a crash log. `SKYWAY_DEBUG=1`
lets every traceback through.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from skyway.errors import SkywayError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from skyway.config import Config

DEBUG_VAR = "SKYWAY_DEBUG"


def debugging() -> bool:
    return os.environ.get(DEBUG_VAR, "") not in ("", "0")


class Obj:
    """The per-invocation context: root, configuration and database."""

    def __init__(self, root: str | None = None) -> None:
        self.root = root
        self._synced = False

    @cached_property
    def config(self) -> Config:
        from skyway import config

        return config.load(self.root)

    @property
    def db_url(self) -> str:
        return self.config.database_url

    @contextmanager
    def session(self, sync: bool = True) -> Iterator[Session]:
        """A database session on a schema at the newest version."""
        from skyway.db import engine

        if not self._synced:
            engine.migrate(self.db_url)
        with engine.session_scope(self.db_url) as session:
            if sync and not self._synced:
                from skyway.db.sync import sync_accounts

                sync_accounts(session, self.config)
                session.commit()
                self._synced = True
            yield session

    @property
    def who(self) -> str:
        """The admin behind this command, for the audit trail."""
        import getpass

        return os.environ.get("SUDO_USER") or getpass.getuser()


pass_obj = click.make_pass_decorator(Obj, ensure=True)


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    """A plain text table with a header rule, as admins read in a tty.

    Cells print as they were formatted (`0.50` stays `0.50`); columns
    of numbers only are right-aligned.
    """
    from tabulate import tabulate

    columns = list(zip(*rows, strict=True)) or [() for _ in headers]
    align = ["right" if _numbers(cells) else "left" for cells in columns]
    return tabulate(
        rows,
        headers=list(headers),
        tablefmt="simple",
        disable_numparse=True,
        colalign=align,
    )


_NUMBER = re.compile(r"-?\$?[\d,]*\d(\.\d+)?")


def _numbers(cells: Sequence[object]) -> bool:
    """Numbers, or text such as `1,024.50` or `$6.00`, `-` for a gap."""
    from decimal import Decimal

    def number(cell: object) -> bool:
        if isinstance(cell, bool):
            return False
        if isinstance(cell, int | float | Decimal):
            return True
        return isinstance(cell, str) and bool(_NUMBER.fullmatch(cell))

    gaps = [cell == "-" for cell in cells]
    return not all(gaps) and all(
        gap or number(cell) for gap, cell in zip(gaps, cells, strict=True)
    )


def echo_table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> None:
    if rows:
        click.echo(table(rows, headers))
    else:
        click.echo("(none)")


def confirm(question: str, assume_yes: bool) -> None:
    """Ask before a destructive step; --yes answers for the admin."""
    if assume_yes:
        return
    if not sys.stdin.isatty():
        raise click.UsageError(
            "confirmation needed and stdin is not a terminal; pass --yes"
        )
    click.confirm(question, abort=True)


def entry(command: click.Command, prog: str) -> Callable[[], NoReturn]:
    """Wrap a Click command into a console script with Skyway's errors."""

    def main(argv: Sequence[str] | None = None) -> NoReturn:
        sys.exit(run(command, prog, argv))

    return main


def run(
    command: click.Command, prog: str, argv: Sequence[str] | None = None
) -> int:
    """Run a command; return its exit code instead of raising."""
    try:
        result = command.main(
            args=list(argv) if argv is not None else None,
            prog_name=prog,
            standalone_mode=False,
        )
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 1
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except SkywayError as exc:
        if debugging():
            raise
        click.echo(f"{prog}: error: {exc}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return 130
    except Exception as exc:
        if debugging():
            raise
        return _crash(prog, exc)
    return result if isinstance(result, int) else 0


def _crash(prog: str, exc: BaseException) -> int:
    import tempfile
    import traceback

    from skyway import __version__

    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = Path(tempfile.gettempdir())
    log = folder / f"skyway-crash-{stamp}-{os.getpid()}.log"
    log.write_text(
        f"skyway {__version__}\npython {sys.version}\nargv {sys.argv}\n\n"
        + "".join(traceback.format_exception(exc))
    )
    click.echo(
        f"{prog}: internal error: {type(exc).__name__}: {exc} "
        f"(traceback in {log}; set {DEBUG_VAR}=1 to show it)",
        err=True,
    )
    return 3
