"""SQLAlchemy models of Skyway's database.

The first five tables keep the original Skyway's meaning (`account`,
`user`, `budget`, `node_map`, `node_journal`); the rest serve the
Terraform engine: the request queue, the run log, cost records, budget
changes, service heartbeats and the per-account lock rows.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
MONEY = Numeric(14, 6)


def utcnow() -> dt.datetime:
    """Now, in UTC, without tzinfo: every timestamp in the database is UTC."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Account(Base):
    """A cloud account: its vendor, PI group and the vendor's own id."""

    __tablename__ = "account"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    vendor: Mapped[str] = mapped_column(String(16))
    group_name: Mapped[str] = mapped_column(String(64))
    cloud_id: Mapped[str] = mapped_column(String(128))
    region: Mapped[str] = mapped_column(String(64))
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    config_hash: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime, default=utcnow, onupdate=utcnow
    )


class User(Base):
    """Membership of a user (a login name) in a cloud account."""

    __tablename__ = "user"
    __table_args__ = (UniqueConstraint("username", "account"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(32))
    account: Mapped[str] = mapped_column(
        ForeignKey("account.name", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Budget(Base):
    """An account's budget: since when, how much, at most how fast."""

    __tablename__ = "budget"

    account: Mapped[str] = mapped_column(
        ForeignKey("account.name", ondelete="CASCADE"), primary_key=True
    )
    start: Mapped[dt.date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    rate: Mapped[Decimal] = mapped_column(MONEY)
    status: Mapped[str] = mapped_column(String(16), default="normal")
    status_changed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    mailed_status: Mapped[str] = mapped_column(String(16), default="normal")
    # The resume hook's last refusal for the rate cap, and its mail.
    rate_capped_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    rate_capped_reason: Mapped[str] = mapped_column(Text, default="")
    rate_mailed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    updated_by: Mapped[str] = mapped_column(String(64), default="")
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime, default=utcnow, onupdate=utcnow
    )


class BudgetChange(Base):
    """One `skyway billing --set`: who changed which key, and when."""

    __tablename__ = "budget_change"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account: Mapped[str] = mapped_column(String(64), index=True)
    key: Mapped[str] = mapped_column(String(16))
    old_value: Mapped[str | None] = mapped_column(String(64))
    new_value: Mapped[str] = mapped_column(String(64))
    changed_by: Mapped[str] = mapped_column(String(64))
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class NodeMap(Base):
    """Every cloud node Skyway manages, powered up or not.

    `state` is one of: idle (powered down), resuming, up, suspending,
    failed, down.
    """

    __tablename__ = "node_map"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    account: Mapped[str] = mapped_column(
        ForeignKey("account.name", ondelete="CASCADE"), index=True
    )
    node_type: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="idle")
    instance_id: Mapped[str | None] = mapped_column(String(128))
    address: Mapped[str | None] = mapped_column(String(64))
    price: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0))
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    jobs: Mapped[str] = mapped_column(Text, default="")
    users: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime, default=utcnow, onupdate=utcnow
    )


class NodeJournal(Base):
    """One row per node lifetime: when it ran, for whom, at what cost."""

    __tablename__ = "node_journal"
    __table_args__ = (
        Index("ix_node_journal_account_start", "account", "started_at"),
        Index("ix_node_journal_account_billed", "account", "billed_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    node: Mapped[str] = mapped_column(String(64), index=True)
    account: Mapped[str] = mapped_column(String(64))
    node_type: Mapped[str] = mapped_column(String(16))
    instance_id: Mapped[str | None] = mapped_column(String(128))
    price: Mapped[Decimal] = mapped_column(MONEY)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    jobs: Mapped[str] = mapped_column(Text, default="")
    users: Mapped[str] = mapped_column(Text, default="")
    cost: Mapped[Decimal | None] = mapped_column(MONEY)
    end_reason: Mapped[str] = mapped_column(Text, default="")
    # Set once billing has folded the closed row into its rollups.
    billed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class NodeRequest(Base):
    """A queued change to an account's desired nodes, from a hook or admin.

    `action` is resume, suspend, fail or remove; `state` is pending,
    running, done or failed.
    """

    __tablename__ = "node_request"
    __table_args__ = (
        Index("ix_node_request_account_state", "account", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account: Mapped[str] = mapped_column(String(64))
    node: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))
    jobs: Mapped[str] = mapped_column(Text, default="")
    users: Mapped[str] = mapped_column(Text, default="")
    trigger: Mapped[str] = mapped_column(String(128), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(16), default="pending")
    run_id: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str] = mapped_column(Text, default="")
    requested_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    done_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class TerraformRun(Base):
    """One plan (and its apply) of an account's workspace, for auditors."""

    __tablename__ = "tf_run"
    __table_args__ = (Index("ix_tf_run_account_id", "account", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))
    trigger: Mapped[str] = mapped_column(String(32))
    triggered_by: Mapped[str] = mapped_column(String(64), default="")
    jobs: Mapped[str] = mapped_column(Text, default="")
    nodes: Mapped[str] = mapped_column(Text, default="")
    template_hash: Mapped[str] = mapped_column(String(64), default="")
    run_dir: Mapped[str] = mapped_column(Text, default="")
    plan_file: Mapped[str] = mapped_column(Text, default="")
    plan_json: Mapped[str] = mapped_column(Text, default="")
    log_file: Mapped[str] = mapped_column(Text, default="")
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="planning")
    exit_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    duration: Mapped[float | None] = mapped_column(Numeric(10, 3))


class CostRecord(Base):
    """What a vendor's cost API reported for an account on one day."""

    __tablename__ = "cost_record"
    __table_args__ = (UniqueConstraint("account", "day", "source", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account: Mapped[str] = mapped_column(String(64), index=True)
    day: Mapped[dt.date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(128), default="")
    amount: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(8), default="USD")
    fetched_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Service(Base):
    """A registered long-running service and its last heartbeat."""

    __tablename__ = "service"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    interval: Mapped[int] = mapped_column(Integer, default=60)
    host: Mapped[str] = mapped_column(String(255), default="")
    pid: Mapped[int | None] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default="stopped")
    last_heartbeat: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str] = mapped_column(Text, default="")
    last_error_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    next_run: Mapped[dt.datetime | None] = mapped_column(DateTime)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    registered_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class LockRow(Base):
    """A row per lock name; SELECT ... FOR UPDATE on it is the lock."""

    __tablename__ = "lock_row"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    holder: Mapped[str] = mapped_column(String(255), default="")
    acquired_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class UsageDay(Base):
    """Node hours and cost of closed journal rows per day, type and user.

    Billing folds each closed `node_journal` row in once, split at
    midnight and shared equally among the row's users, so reports over a
    million lifetimes read a few thousand rows.
    """

    __tablename__ = "usage_day"
    __table_args__ = (
        UniqueConstraint("account", "day", "node_type", "username"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account: Mapped[str] = mapped_column(String(64))
    day: Mapped[dt.date] = mapped_column(Date)
    node_type: Mapped[str] = mapped_column(String(16))
    username: Mapped[str] = mapped_column(String(32))
    seconds: Mapped[Decimal] = mapped_column(Numeric(18, 3))
    cost: Mapped[Decimal] = mapped_column(MONEY)


class JobUsage(Base):
    """Node hours and cost of one Slurm job, from closed journal rows.

    A node lifetime that served several jobs is shared equally among them.
    """

    __tablename__ = "job_usage"
    __table_args__ = (
        UniqueConstraint("account", "job"),
        Index("ix_job_usage_account_cost", "account", "cost"),
        Index("ix_job_usage_account_end", "account", "last_end", "first_start"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account: Mapped[str] = mapped_column(String(64))
    job: Mapped[str] = mapped_column(String(32))
    users: Mapped[str] = mapped_column(String(255), default="")
    node_types: Mapped[str] = mapped_column(String(128), default="")
    nodes: Mapped[int] = mapped_column(Integer, default=0)
    first_start: Mapped[dt.datetime] = mapped_column(DateTime)
    last_end: Mapped[dt.datetime] = mapped_column(DateTime)
    seconds: Mapped[Decimal] = mapped_column(Numeric(18, 3))
    cost: Mapped[Decimal] = mapped_column(MONEY)


class CostFetch(Base):
    """The last attempt to read an account's costs from one vendor API."""

    __tablename__ = "cost_fetch"

    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    as_of: Mapped[dt.date | None] = mapped_column(Date)
    last_ok_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_attempt_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
