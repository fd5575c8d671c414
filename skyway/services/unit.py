"""A systemd unit for a service, for sites that let systemd supervise.

The unit runs the same foreground process `--start` detaches, so the
pid file, the log and the heartbeat behave the same under systemd.
"""

from __future__ import annotations

import re

from skyway.config import Config
from skyway.services import supervise

_PLAIN = re.compile(r"[A-Za-z0-9_@%+=:,./-]+")


def quote(word: str) -> str:
    """One word of an ExecStart= line, quoted the way systemd reads it."""
    escaped = word.replace("%", "%%")
    if _PLAIN.fullmatch(word):
        return escaped
    escaped = escaped.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def render(config: Config, name: str, user: str = "root") -> str:
    """The text of `skyway-NAME.service`."""
    argv = " ".join(quote(word) for word in supervise.command(config, name))
    return "\n".join(
        [
            "[Unit]",
            f"Description=Skyway service {name}",
            "Wants=network-online.target",
            "After=network-online.target mariadb.service postgresql.service",
            "",
            "[Service]",
            "Type=simple",
            f"User={user}",
            f"WorkingDirectory={quote(str(config.root))}",
            f"ExecStart={argv}",
            f"Environment={quote('SKYWAY_ROOT=' + str(config.root))}",
            "KillSignal=SIGTERM",
            f"TimeoutStopSec={int(supervise.STOP_WAIT)}",
            "Restart=on-failure",
            "RestartSec=10",
            "",
            "[Install]",
            "WantedBy=multi-user.target",
            "",
        ]
    )
