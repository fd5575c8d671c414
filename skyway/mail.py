"""Mail to admins and PIs through the site's SMTP server."""

from __future__ import annotations

import logging
import os
import smtplib
from collections.abc import Sequence
from email.message import EmailMessage

from skyway.config import MailSettings, SecretRef
from skyway.errors import ConfigError, SkywayError

log = logging.getLogger(__name__)


class MailError(SkywayError):
    """The SMTP server refused or could not be reached."""


def send(
    settings: MailSettings,
    subject: str,
    body: str,
    to: Sequence[str] | None = None,
) -> list[str]:
    """Send one plain-text mail; return the recipients it went to."""
    recipients = list(to or settings.admins)
    if not recipients:
        raise ConfigError(
            "skyway.yaml", "mail.admins", "expected at least one recipient"
        )
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = subject
    message.set_content(body)
    try:
        with smtplib.SMTP(
            settings.smtp_host, settings.smtp_port, timeout=settings.timeout
        ) as smtp:
            if settings.starttls:
                smtp.starttls()
            if settings.username:
                smtp.login(settings.username, _password(settings.password))
            smtp.send_message(message, to_addrs=recipients)
    except (TimeoutError, OSError, smtplib.SMTPException) as exc:
        raise MailError(
            f"cannot send mail through {settings.smtp_host}:"
            f"{settings.smtp_port}: {exc}"
        ) from exc
    log.info("mailed %r to %s", subject, ", ".join(recipients))
    return recipients


def _password(ref: SecretRef | None) -> str:
    if ref is None:
        raise ConfigError(
            "skyway.yaml", "mail.password", "expected env or file reference"
        )
    if ref.env:
        value = os.environ.get(ref.env)
        if value is None:
            raise ConfigError(
                "skyway.yaml",
                "mail.password.env",
                f"environment variable {ref.env} is not set",
            )
        return value
    if ref.file:
        return ref.file.read_text().strip()
    raise ConfigError(
        "skyway.yaml", "mail.password", "a profile cannot hold a password"
    )
