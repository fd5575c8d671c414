"""`skyway service`: the long-running account workers and billing loop."""

from __future__ import annotations

import datetime as dt

import click

from skyway.cli.app import Obj, echo_table, pass_obj
from skyway.errors import InputError, NotFoundError, SkywayError

ACTIONS = ("status", "regist", "start", "stop", "restart", "unit", "run")


@click.command()
@click.option(
    "--status", is_flag=True, help="Every service with its heartbeat."
)
@click.option(
    "--regist", metavar="NAME", help="Register cloud-ACCOUNT or billing."
)
@click.option("--start", metavar="NAME", help="Start a registered service.")
@click.option("--stop", metavar="NAME", help="Stop a running service.")
@click.option("--restart", metavar="NAME", help="Stop, then start a service.")
@click.option(
    "--unit", metavar="NAME", help="Print a systemd unit for a service."
)
@click.option("--run", metavar="NAME", hidden=True, help="Run in foreground.")
@pass_obj
def service(obj: Obj, /, **options: object) -> int:
    """List and control Skyway's services (cloud-ACCOUNT, billing).

    With no option, list the registered services. Each runs as a
    detached process with its pid file and log under state/services/,
    and writes a heartbeat to the database that --status reads.
    """
    chosen = [k for k in ACTIONS if options.get(k) not in (None, False)]
    if len(chosen) > 1:
        raise InputError(
            "expected at most one of "
            + ", ".join(f"--{key}" for key in ACTIONS[:-1])
            + f"; got --{' and --'.join(chosen)}"
        )
    if not chosen:
        return _list(obj)
    action = chosen[0]
    if action == "status":
        return _status(obj)
    name = str(options[action])
    return int(HANDLERS[action](obj, name))


def _list(obj: Obj) -> int:
    from skyway.services import registry, status

    with obj.session() as session:
        rows = [
            (
                row.name,
                f"{row.interval} s",
                "yes"
                if registry.settings(obj.config, row.name).enabled
                else "no",
                _when(row.registered_at),
            )
            for row in status.rows(session)
        ]
    echo_table(rows, ["service", "interval", "enabled", "registered"])
    return 0


def _status(obj: Obj) -> int:
    from skyway.services import status, supervise

    with obj.session() as session:
        views = [
            status.view(row, lambda n: supervise.running_pid(obj.config, n))
            for row in status.rows(session)
        ]
    rows = [
        (
            v.name,
            v.host or "-",
            v.pid or "-",
            v.state,
            _when(v.heartbeat),
            _when(v.next_run),
            _error(v.error, v.error_at),
        )
        for v in views
    ]
    echo_table(
        rows,
        [
            "service",
            "host",
            "pid",
            "state",
            "heartbeat",
            "next run",
            "last error",
        ],
    )
    return 0


def _when(moment: dt.datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def _error(text: str, at: dt.datetime | None, width: int = 72) -> str:
    if not text:
        return "-"
    line = " ".join(text.split())
    if len(line) > width:
        line = line[: width - 1] + "…"
    return f"[{_when(at)}] {line}"


def _regist(obj: Obj, name: str) -> int:
    from skyway.services import registry, status

    registry.check(obj.config, name)
    interval = registry.settings(obj.config, name).interval
    with obj.session() as session:
        status.register(session, name, interval)
    click.echo(f"registered {name} (every {interval} s)")
    return 0


def _start(obj: Obj, name: str) -> int:
    from skyway.services import registry, supervise

    registry.check(obj.config, name)
    if not registry.settings(obj.config, name).enabled:
        raise SkywayError(
            f"{name} is disabled in etc/services/{name}.yaml (enabled: false)"
        )
    _check_registered_here(obj, name)
    pid = supervise.start(obj.config, name)
    log = supervise.log_file(obj.config, name)
    beat = "" if _first_beat(obj, name, pid) else "; no heartbeat yet"
    click.echo(f"started {name} (pid {pid}; log {log}{beat})")
    return 0


def _first_beat(obj: Obj, name: str, pid: int, wait: float = 10) -> bool:
    """Wait until the new process has written its row to the database."""
    import time

    from skyway.db import models

    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        with obj.session(sync=False) as session:
            row = session.get(models.Service, name)
            if row is not None and row.pid == pid:
                return True
        time.sleep(0.1)
    return False


def _check_registered_here(obj: Obj, name: str) -> None:
    """Refuse a service that is unregistered or alive on another host."""
    from skyway.db import models
    from skyway.services import status

    with obj.session() as session:
        row = session.get(models.Service, name)
        if row is None:
            raise NotFoundError(
                f"service {name} is not registered; "
                f"run `skyway service --regist {name}` first"
            )
        state = status.effective_state(row, lambda _: row.pid)
        if row.host != status.this_host() and state in status.LIVE_STATES:
            raise SkywayError(
                f"{name} runs on host {row.host} (pid {row.pid}); "
                "stop it there first"
            )


def _stop(obj: Obj, name: str) -> int:
    from skyway.services import registry, supervise

    registry.check(obj.config, name)
    pid = supervise.stop(obj.config, name)
    if pid is None:
        _check_registered_here(obj, name)
        click.echo(f"{name} is not running on this host")
    else:
        click.echo(f"stopped {name} (pid {pid})")
    return 0


def _restart(obj: Obj, name: str) -> int:
    _stop(obj, name)
    return _start(obj, name)


def _unit(obj: Obj, name: str) -> int:
    from skyway.services import registry, unit

    registry.check(obj.config, name)
    click.echo(unit.render(obj.config, name), nl=False)
    return 0


def _run(obj: Obj, name: str) -> int:
    import logging

    from skyway.services.__main__ import FORMAT
    from skyway.services.serve import serve

    logging.basicConfig(level=logging.INFO, format=FORMAT)
    return serve(obj.config, name)


HANDLERS = {
    "regist": _regist,
    "start": _start,
    "stop": _stop,
    "restart": _restart,
    "unit": _unit,
    "run": _run,
}
