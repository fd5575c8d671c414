"""Land the accounts and memberships of the YAML in the database.

Idempotent: running it twice changes nothing the second time. A budget
from the YAML is only an initial value; once set in the database it is
changed with `skyway billing --set`, never overwritten from the file.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from skyway.config import Account, Config
from skyway.db import models


@dataclass
class SyncReport:
    """What a sync changed, for the admin's eyes."""

    accounts_added: list[str] = field(default_factory=list)
    accounts_updated: list[str] = field(default_factory=list)
    users_added: list[str] = field(default_factory=list)
    users_removed: list[str] = field(default_factory=list)
    budgets_added: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(vars(self).values())


def account_hash(account: Account) -> str:
    """A fingerprint of an account's configuration."""
    text = json.dumps(account.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def sync_accounts(session: Session, config: Config) -> SyncReport:
    """Make the account, user and budget tables match the configuration."""
    report = SyncReport()
    for account in config.accounts.values():
        _sync_account(session, account, report)
        _sync_users(session, account, report)
        _sync_budget(session, account, report)
    session.flush()
    return report


def _sync_account(
    session: Session, account: Account, report: SyncReport
) -> None:
    row = session.get(models.Account, account.name)
    digest = account_hash(account)
    if row is None:
        row = models.Account(name=account.name)
        session.add(row)
        report.accounts_added.append(account.name)
    elif row.config_hash == digest:
        return
    else:
        report.accounts_updated.append(account.name)
    row.vendor = account.vendor
    row.group_name = account.group
    row.cloud_id = account.cloud_id
    row.region = account.region
    row.meta = {"description": account.description}
    row.config_hash = digest


def _sync_users(session: Session, account: Account, report: SyncReport) -> None:
    have = set(
        session.scalars(
            select(models.User.username).where(
                models.User.account == account.name
            )
        )
    )
    want = set(account.users)
    for username in sorted(want - have):
        session.add(models.User(username=username, account=account.name))
        report.users_added.append(f"{account.name}:{username}")
    gone = sorted(have - want)
    if gone:
        session.execute(
            delete(models.User).where(
                models.User.account == account.name,
                models.User.username.in_(gone),
            )
        )
        report.users_removed.extend(f"{account.name}:{u}" for u in gone)


def _sync_budget(
    session: Session, account: Account, report: SyncReport
) -> None:
    if account.budget is None:
        return
    if session.get(models.Budget, account.name) is not None:
        return
    session.add(
        models.Budget(
            account=account.name,
            start=account.budget.start,
            amount=account.budget.amount,
            rate=account.budget.rate,
            updated_by="config",
        )
    )
    report.budgets_added.append(account.name)
