"""The catalog: what login-node commands may know, with no secrets.

The admin side publishes one JSON file (node types, prices, limits,
memberships, nodes up, balances); `sinfo-node-types` and `sinteractive`
read it and need neither cloud credentials nor a database password.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from skyway.config import Config
from skyway.db import models
from skyway.errors import ConfigError

CATALOG_VAR = "SKYWAY_CATALOG"
UP_STATES = ("resuming", "up")


def build(
    config: Config,
    session: Session,
    balances: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The catalog as a JSON-ready dict; `balances` come from billing."""
    up = Counter(
        (row.account, row.node_type)
        for row in session.scalars(
            select(models.NodeMap).where(models.NodeMap.state.in_(UP_STATES))
        )
    )
    found = balances if balances is not None else _balances(config, session)
    accounts = {}
    for name, account in sorted(config.accounts.items()):
        offered = config.vendors[account.vendor].node_types
        accounts[name] = {
            "vendor": account.vendor,
            "group": account.group,
            "partition": name,
            "users": sorted(account.users),
            "node_types": {
                type_name: {
                    **offered[type_name].model_dump(mode="json"),
                    "max": limit,
                    "up": up[(name, type_name)],
                }
                for type_name, limit in sorted(account.nodes.items())
            },
            "budget": found.get(name),
        }
    generated = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return {"generated_at": generated, "accounts": accounts}


def _balances(config: Config, session: Session) -> dict[str, dict[str, Any]]:
    """Budget, spending, balance, rates and status of every account."""
    from skyway.billing import report

    now = models.utcnow()
    found = {}
    for line in report.overviews(session, config, now):
        if line.amount is None or line.start is None:
            continue
        found[line.account] = {
            "start": line.start.isoformat(),
            "amount": float(line.amount),
            "rate": float(line.rate_cap or 0),
            "spent": float(line.spent),
            "spent_estimated": float(line.estimated),
            "spent_vendor": _float(line.vendor.amount),
            "vendor_as_of": _day(line.vendor.as_of),
            "balance": _float(line.balance),
            "rate_now": float(line.rate_now),
            "status": line.status,
        }
    return found


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(round(value, 2))


def _day(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def publish(catalog: dict[str, Any], path: Path) -> None:
    """Write the catalog atomically, readable by every login-node user."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".catalog-")
    with os.fdopen(fd, "w") as out:
        json.dump(catalog, out, indent=1, sort_keys=True)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def read(path: Path | None = None) -> dict[str, Any]:
    """Read the published catalog (path from SKYWAY_CATALOG if unset)."""
    chosen = path or Path(os.environ.get(CATALOG_VAR, ""))
    if not str(chosen) or str(chosen) == ".":
        raise ConfigError(
            CATALOG_VAR, "", "no catalog: set SKYWAY_CATALOG or SKYWAY_ROOT"
        )
    try:
        data: dict[str, Any] = json.loads(chosen.read_text())
    except FileNotFoundError:
        raise ConfigError(
            str(chosen), "", "catalog not published yet; ask your admins"
        ) from None
    except (OSError, ValueError) as exc:
        raise ConfigError(
            str(chosen), "", f"unreadable catalog: {exc}"
        ) from None
    return data
