"""The `cloud-ACCOUNT` service: drain the request queue, reconcile.

Two tasks: every couple of seconds, if the account has requests waiting,
run the account worker (the same code a hook starts when no service
runs); every interval, run the worker regardless (it picks up requests a
killed worker left behind), reconcile the four views of the account,
and remove run folders older than `terraform.keep_run_files_days`.
"""

from __future__ import annotations

import logging

from sqlalchemy import func, select

from skyway.db import models
from skyway.db.engine import session_scope
from skyway.services.registry import Context, Task

log = logging.getLogger(__name__)

POLL = 2.0
WAITING = ("pending",)


def tasks(context: Context, account: str) -> list[Task]:
    """Reconcile every interval (the main task) and drain the queue."""
    context.config.account(account)

    def reconcile_tick() -> None:
        work(context, account)
        reconcile(context, account)
        prune_runs(context, account)

    def drain_tick() -> None:
        if waiting(context.db_url, account):
            work(context, account)

    return [
        Task("reconcile", reconcile_tick, context.interval),
        Task("drain", drain_tick, min(POLL, context.interval)),
    ]


def waiting(db_url: str, account: str) -> int:
    """How many requests of `account` wait for a worker."""
    query = (
        select(func.count())
        .select_from(models.NodeRequest)
        .where(models.NodeRequest.account == account)
        .where(models.NodeRequest.state.in_(WAITING))
    )
    with session_scope(db_url) as session:
        return int(session.scalar(query) or 0)


def work(context: Context, account: str) -> None:
    """Run the account worker once over the queue."""
    from skyway import nodes
    from skyway.slurm import notify

    nodes.work(
        context.config, account, notifier=notify.for_config(context.config)
    )


def reconcile(context: Context, account: str) -> None:
    """Compare the four views of the account, fix what is safe, log."""
    from skyway.reconcile import reconcile as reconcile_account

    report = reconcile_account(
        context.config,
        account,
        grace=context.settings.grace,
    )
    for line in report.lines():
        log.warning("%s: %s", account, line)
    if report.queued:
        work(context, account)


def prune_runs(context: Context, account: str) -> None:
    """Remove the files of runs past their retention; rows stay."""
    from skyway.terraform import runs

    with session_scope(context.db_url) as session:
        pruned = runs.prune(session, context.config, account)
    if pruned:
        log.info("%s: removed the files of runs %s", account, pruned)
