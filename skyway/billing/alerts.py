"""Mail to the admins and the account's PI about its budget.

A status change (normal, warning, exceeded) is mailed once; a refusal
by the hourly-rate cap at most once a day per account.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from decimal import Decimal

from skyway import mail
from skyway.billing import budget
from skyway.config import Config

log = logging.getLogger(__name__)

Sender = Callable[[str, str, Sequence[str]], object]
RATE_MAIL_EVERY = dt.timedelta(days=1)


def recipients(config: Config, account: str) -> list[str]:
    """The site's admins, then the account's PI and admins, once each."""
    found = [*config.settings.mail.admins, *config.account(account).admins]
    return list(dict.fromkeys(found))


def default_sender(config: Config) -> Sender:
    def send(subject: str, body: str, to: Sequence[str]) -> object:
        return mail.send(config.settings.mail, subject, body, to)

    return send


def status_mail(
    account: str,
    status: str,
    spent: Decimal,
    amount: Decimal,
    start: dt.date,
    policy: str,
) -> tuple[str, str]:
    """Subject and body of the mail for a new budget status."""
    used = f"${spent:,.2f} of ${amount:,.2f} spent since {start}"
    raise_it = f"skyway billing {account} --set amount=NEW"
    if status == budget.EXCEEDED:
        running = (
            "Its running jobs were cancelled (policy: cancel)."
            if policy == "cancel"
            else "Its running jobs continue until they end."
        )
        return (
            f"[skyway] {account}: budget exceeded, no new jobs accepted",
            f"Cloud account {account} has reached its budget: {used}.\n"
            f"Slurm accepts no new jobs for it. {running}\n"
            f"To raise the budget: {raise_it}\n",
        )
    if status == budget.WARNING:
        return (
            f"[skyway] {account}: 80 % of the budget spent",
            f"Cloud account {account} has {used}.\n"
            "At 100 % Slurm stops accepting its jobs.\n"
            f"To raise the budget: {raise_it}\n",
        )
    return (
        f"[skyway] {account}: budget back to normal, jobs accepted",
        f"Cloud account {account} is within its budget again: {used}.\n"
        "Slurm accepts its jobs again.\n",
    )


def rate_mail(account: str, reason: str, rate: Decimal) -> tuple[str, str]:
    """Subject and body of the mail for a refusal by the rate cap."""
    return (
        f"[skyway] {account}: hourly rate cap ${rate:,.2f}/h reached",
        f"Slurm asked for nodes of cloud account {account} that would "
        f"take it over its maximum rate, so they were not started:\n"
        f"  {reason}\n"
        "Jobs wait until running nodes go down. To raise the cap: "
        f"skyway billing {account} --set rate=NEW\n",
    )
