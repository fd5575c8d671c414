"""`skyway misc.sendmail` delivers a real mail to an SMTP server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import Cli
from tests.smtp import Inbox, smtp_server


@pytest.fixture
def smtp(root: Path) -> Iterator[Inbox]:
    with smtp_server(root) as inbox:
        yield inbox


def test_sendmail_reaches_the_server(cli: Cli, smtp: Inbox) -> None:
    result = cli("misc.sendmail", "--subject", "hello from skyway")

    assert result.code == 0, result.err
    assert len(smtp.messages) == 1
    message = smtp.messages[0]
    assert message["Subject"] == "hello from skyway"  # type: ignore[index]
    assert message["To"] == "rcc-admins@example.edu"  # type: ignore[index]
    assert "test mail from Skyway" in message.get_payload()  # type: ignore[attr-defined]


def test_sendmail_to_a_dead_server_is_one_line(cli: Cli, root: Path) -> None:
    path = root / "etc/skyway.yaml"
    settings = yaml.safe_load(path.read_text())
    settings["mail"]["smtp_port"] = 9
    path.write_text(yaml.safe_dump(settings))

    result = cli("misc.sendmail")

    assert result.code == 1
    assert "cannot send mail through 127.0.0.1:9" in result.err
