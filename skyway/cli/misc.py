"""`skyway misc.*`: the database, the node map and a test mail."""

from __future__ import annotations

import click

from skyway.cli.app import Obj, echo_table, pass_obj


@click.command("misc.db_test")
@pass_obj
def db_test(obj: Obj) -> int:
    """Connect, migrate the schema to the newest version, count rows."""
    from sqlalchemy import func, select

    from skyway.db import engine, models
    from skyway.db.sync import sync_accounts

    url = obj.db_url
    click.echo(f"database: {engine.redact(url)}")
    click.echo(f"server:   {engine.server_version(url)}")
    before, after = engine.migrate(url)
    moved = (
        "up to date"
        if before == after
        else f"migrated from {before or 'empty'}"
    )
    click.echo(f"schema:   {after} ({moved})")
    with engine.session_scope(url) as session:
        report = sync_accounts(session, obj.config)
        tables = sorted(
            models.Base.metadata.tables.values(), key=lambda t: t.name
        )
        rows = [
            (
                table.name,
                session.scalar(select(func.count()).select_from(table)),
            )
            for table in tables
        ]
    echo_table(rows, ["table", "rows"])
    if report.changed:
        click.echo(
            f"synced from YAML: {len(report.accounts_added)} accounts added, "
            f"{len(report.accounts_updated)} updated, "
            f"{len(report.users_added)} users added, "
            f"{len(report.users_removed)} removed"
        )
    click.echo("db_test: OK")
    return 0


@click.command("misc.nodes")
@click.option(
    "--update", is_flag=True, help="Reconcile once and print the drift."
)
@click.option("-A", "--account", metavar="ACCOUNT", help="Only this account.")
@pass_obj
def nodes(obj: Obj, update: bool, account: str | None) -> int:
    """The node map: every cloud node, its state, instance and address."""
    from sqlalchemy import select

    from skyway.db import models

    if account:
        obj.config.account(account)
    if update:
        _reconcile(obj, [account] if account else sorted(obj.config.accounts))
    with obj.session() as session:
        query = select(models.NodeMap).order_by(models.NodeMap.name)
        if account:
            query = query.where(models.NodeMap.account == account)
        rows = [
            (
                n.name,
                n.account,
                n.node_type,
                n.state,
                n.instance_id or "-",
                n.address or "-",
                n.started_at.strftime("%Y-%m-%d %H:%M:%S")
                if n.started_at
                else "-",
                n.jobs or "-",
            )
            for n in session.scalars(query)
        ]
    echo_table(
        rows,
        [
            "node",
            "account",
            "type",
            "state",
            "instance",
            "address",
            "started",
            "jobs",
        ],
    )
    return 0


def _reconcile(obj: Obj, accounts: list[str]) -> None:
    """Reconcile each account once, carry out its fixes, print the drift."""
    from skyway import nodes as worker
    from skyway.reconcile import reconcile
    from skyway.services import registry

    with obj.session():
        pass  # the schema and the accounts, before the reconciler reads
    rows = []
    for name in accounts:
        grace = registry.settings(obj.config, f"cloud-{name}").grace
        report = reconcile(obj.config, name, grace=grace)
        if worker.has_pending(obj.config, name):  # ours or queued meanwhile
            worker.work(obj.config, name)
        rows += [
            (name, d.kind, d.node or "-", d.instance or "-", d.detail, d.action)
            for d in report.drift
        ]
        click.echo(
            f"{name}: views {', '.join(report.views)}; "
            f"{len(report.drift)} drift"
        )
    echo_table(
        rows, ["account", "drift", "node", "instance", "detail", "action"]
    )
    click.echo("")  # the node map follows, as it is after the fixes


@click.command("misc.sendmail")
@click.option(
    "--to",
    "to",
    metavar="ADDRESS",
    multiple=True,
    help="Recipient (default: the admins in skyway.yaml).",
)
@click.option("--subject", default="Skyway test mail", show_default=True)
@click.option("--body", default=None, help="Text of the mail.")
@pass_obj
def sendmail(
    obj: Obj, to: tuple[str, ...], subject: str, body: str | None
) -> int:
    """Send a mail through the configured SMTP server."""
    import socket

    from skyway import mail

    settings = obj.config.settings.mail
    text = body or f"This is a test mail from Skyway on {socket.gethostname()}."
    sent = mail.send(settings, subject, text, to or None)
    click.echo(
        f"sent {subject!r} to {', '.join(sent)} via "
        f"{settings.smtp_host}:{settings.smtp_port}"
    )
    return 0


COMMANDS = [db_test, nodes, sendmail]
