"""The `billing` service: costs, budgets, mail and the catalog.

Each step is its own task, so a vendor's cost API being down does not
stop enforcement or the catalog: the failing step backs off alone and
its error shows in `skyway service --status`.
"""

from __future__ import annotations

import logging

from skyway.db.engine import session_scope
from skyway.errors import SkywayError
from skyway.services.registry import Context, Task

log = logging.getLogger(__name__)
CATALOG_EVERY = 60.0  # nodes up and balances stay fresh for login nodes


def tasks(context: Context) -> list[Task]:
    """Pull costs, then enforce budgets (and mail), then publish.

    The catalog goes out at least every minute, whatever the interval:
    it is what `sinfo-node-types` shows as the nodes up.
    """
    every = context.interval
    return [
        Task("costs", lambda: pull_costs(context), every),
        Task("enforce", lambda: enforce(context), every),
        Task(
            "catalog",
            lambda: publish_catalog(context),
            min(every, CATALOG_EVERY),
        ),
    ]


def pull_costs(context: Context) -> None:
    """Fetch every account's vendor costs into cost records."""
    from skyway.billing import costs

    costs.fetch_all(context.config, context.db_url)


def enforce(context: Context) -> None:
    """Bring every account's budget status, Slurm and mail in line.

    An account whose hold or mail failed is retried on the next round
    (its status stays unchanged until then) and named in `last_error`.
    """
    from skyway.billing import enforce as enforcement

    outcomes = enforcement.check(context.config, context.db_url)
    for outcome in outcomes:
        if outcome.new != outcome.old or outcome.mailed:
            log.info(
                "budget of %s: %s -> %s (spent %s)%s",
                outcome.account,
                outcome.old,
                outcome.new,
                outcome.spent,
                f"; mailed {', '.join(outcome.mailed)}"
                if outcome.mailed
                else "",
            )
    failed = [o for o in outcomes if o.errors]
    if failed:
        raise SkywayError(
            "; ".join(f"{o.account}: {', '.join(o.errors)}" for o in failed)
        )


def publish_catalog(context: Context) -> None:
    """Publish what the login-node commands may read."""
    from skyway import catalog

    with session_scope(context.db_url) as session:
        data = catalog.build(context.config, session)
    catalog.publish(data, context.config.catalog_path)
    log.info("catalog published to %s", context.config.catalog_path)
