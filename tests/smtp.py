"""A real SMTP server on loopback that a root's skyway.yaml points at."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message


class Inbox(Message):
    """Every mail the server received, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[Any] = []

    def handle_message(self, message: Any) -> None:
        self.messages.append(message)

    def subjects(self) -> list[str]:
        return [str(m["Subject"]) for m in self.messages]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def smtp_server(root: Path, port: int | None = None) -> Iterator[Inbox]:
    """Serve SMTP on loopback; the root's mail settings name the port.

    skyway.yaml is put back as it was when the server stops.
    """
    inbox = Inbox()
    port = port or free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    path = root / "etc" / "skyway.yaml"
    before = path.read_text() if path.exists() else ""
    settings = yaml.safe_load(before) or {}
    settings.setdefault("mail", {})["smtp_port"] = port
    path.write_text(yaml.safe_dump(settings))
    try:
        yield inbox
    finally:
        controller.stop()
        path.write_text(before)
