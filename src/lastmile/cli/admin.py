"""``lastmile admin``: create organisations and users (setup, support)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy.orm import Session, sessionmaker

from lastmile.auth import passwords
from lastmile.auth import service as auth
from lastmile.cli.common import fail
from lastmile.config import get_settings
from lastmile.core.errors import Conflict, LastmileError, NotFound
from lastmile.db import create_db_engine, migrate, session_factory
from lastmile.orgs import service as orgs
from lastmile.orgs.models import Role

app = typer.Typer(help="Set up organisations and users.", no_args_is_help=True)
console = Console()


def _sessions() -> sessionmaker[Session]:
    engine = create_db_engine(get_settings().resolved_database_url)
    migrate(engine)
    return session_factory(engine)


@app.command("create-org")
def create_org(
    name: Annotated[str, typer.Argument(help="Organisation name (unique).")],
    admin_email: Annotated[str, typer.Option(help="E-mail of its first admin.")],
    password: Annotated[
        str,
        typer.Option(
            help="That admin's password (10+ characters, not the e-mail, not a common one)."
        ),
    ],
    timezone: Annotated[str, typer.Option(help="IANA time zone of the delivery windows.")] = "UTC",
    simulation: Annotated[
        bool,
        typer.Option(
            "--simulation",
            help="A simulation organisation: it runs on its own clock (start and speed, set by "
            "`lastmile simulate` or PUT /api/v1/organisation/clock), never the real one.",
        ),
    ] = False,
) -> None:
    """Create an organisation and its first admin."""
    existed = False
    try:
        with _sessions()() as session:
            try:
                user = auth.get_user_by_email(session=session, email=admin_email)
                existed = True
            except NotFound:
                passwords.check(password, admin_email)
                user = None
            org = orgs.create(session=session, name=name, timezone=timezone, simulation=simulation)
            if user is None:
                user = auth.create_user(session=session, email=admin_email, password=password)
            orgs.add_member(session=session, org_id=org.id, user_id=user.id, role=Role.ADMIN)
    except LastmileError as exc:
        fail(exc)
    kind = "simulation organisation" if simulation else "organisation"
    console.print(f"Created {kind} [bold]{name}[/] ({org.id}) with admin {user.email}")
    if existed:
        console.print(
            f"{user.email} already had an account: its password was [bold]not[/] changed "
            "(--password was not used)."
        )


@app.command("create-user")
def create_user(
    org: Annotated[str, typer.Option("--org", help="Organisation name.")],
    email: Annotated[str, typer.Option(help="Login e-mail.")],
    password: Annotated[
        str,
        typer.Option(help="Password (10+ characters, not the e-mail, not a common one)."),
    ],
    role: Annotated[Role, typer.Option(help="admin, dispatcher or driver.")] = Role.DISPATCHER,
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    update_password: Annotated[
        bool,
        typer.Option(
            "--update-password",
            help="The e-mail already has an account: set its password to --password (and log "
            "it out everywhere). Without it, an existing account is refused.",
        ),
    ] = False,
) -> None:
    """Create a user (or give an existing one a role, with --update-password) in an
    organisation."""
    try:
        with _sessions()() as session:
            organisation = orgs.get_by_name(session=session, name=org)
            try:
                user = auth.get_user_by_email(session=session, email=email)
            except NotFound:
                user = auth.create_user(session=session, email=email, password=password, name=name)
            else:
                if not update_password:
                    fail(
                        Conflict(
                            f"{user.email} already has an account; nothing was changed. Add "
                            "--update-password to set its password to --password and give it "
                            "the role."
                        )
                    )
                auth.set_password(session=session, user_id=user.id, password=password)
            orgs.add_member(session=session, org_id=organisation.id, user_id=user.id, role=role)
    except LastmileError as exc:
        fail(exc)
    changed = " (password updated, logged out everywhere)" if update_password else ""
    console.print(f"{user.email} is {role.value} of [bold]{org}[/]{changed}")


def _limit_value(value: str | None, option: str) -> int | None:
    """A ``set-limits`` option: a whole number (0 = no limit) or ``default``."""
    if value is None or value.strip().lower() == "default":
        return None
    try:
        return int(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a whole number or 'default'", param_hint=option
        ) from None


@app.command("set-limits")
def set_limits(
    org: Annotated[str, typer.Argument(help="Organisation name.")],
    orders_per_day: Annotated[
        str | None,
        typer.Option(help="Orders it may create per business day; 0 = no limit; 'default'."),
    ] = None,
    api_requests_per_minute: Annotated[
        str | None,
        typer.Option(help="Requests a minute with its credentials; 0 = no limit; 'default'."),
    ] = None,
) -> None:
    """Give an organisation its own limits (or 'default': the instance's settings again);
    without options, show them. They apply within a minute, on every server process."""
    from lastmile.auth import org_limits
    from lastmile.orgs import limits

    values: dict[str, int | None] = {}
    for name, given, option in (
        ("orders_per_day", orders_per_day, "--orders-per-day"),
        ("api_requests_per_minute", api_requests_per_minute, "--api-requests-per-minute"),
    ):
        if given is not None:
            values[name] = _limit_value(given, option)
    org_limits.configure(get_settings())
    try:
        with _sessions()() as session:
            organisation = orgs.get_by_name(session=session, name=org)
            if values:
                limits.set_overrides(session=session, org_id=organisation.id, values=values)
            own = limits.overrides(organisation)
            effective = org_limits.of(organisation)
    except LastmileError as exc:
        fail(exc)
    for name in limits.NAMES:
        value = getattr(effective, name)
        shown = "no limit" if value == 0 else f"{value:,}"
        source = "its own" if name in own else "the instance default"
        console.print(f"{org}: {name.replace('_', ' ')} {shown} ({source})")


@app.command("migrate")
def migrate_command() -> None:
    """Bring the database schema to this version's newest migration (run after an upgrade;
    safe to run again, and one process at a time on PostgreSQL)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from lastmile.cli.server import checked_settings
    from lastmile.db.engine import alembic_config

    settings = checked_settings()
    engine = create_db_engine(settings.resolved_database_url)
    try:
        newest = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
        with engine.connect() as conn:
            before = MigrationContext.configure(conn).get_current_revision()
        if before == newest:
            console.print(f"The database is up to date (migration {newest}).")
        else:
            console.print(f"Migrating the database from {before or 'empty'} to {newest} ...")
            migrate(engine)
            console.print(f"Done: the database is at migration {newest}.")
        if settings.uses_queue:  # procrastinate's own tables, outside our migrations
            from lastmile.jobs.queue import ensure_schema, make_app

            with make_app(settings).open() as queue:
                ensure_schema(queue, engine)
    finally:
        engine.dispose()


@app.command("check")
def check_command() -> None:
    """Check the configuration and what a server needs (data directory, database, migrations,
    queue, road network, routing and geocoding servers) and say what is wrong; exit code 1
    if anything is."""
    from lastmile.cli.server import checked_settings
    from lastmile.integrations.configured import provider_for, server_checks
    from lastmile.ops.health import readiness

    settings = checked_settings()
    engine = create_db_engine(settings.resolved_database_url)
    try:
        provider_for(settings)
        checks = readiness(settings=settings, engine=engine, jobs=True)
    finally:
        engine.dispose()
    checks.update(server_checks(settings))
    for name, verdict in checks.items():
        mark = "[green]ok[/]" if verdict == "ok" else f"[red]{verdict}[/]"
        console.print(f"{name:<11} {mark}")
    if any(v != "ok" for v in checks.values()):
        raise typer.Exit(1)


@app.command("backup")
def backup_command(
    archive: Annotated[
        Path | None,
        typer.Argument(
            help="Archive to write, or a directory for a dated one (default: a dated one here)."
        ),
    ] = None,
    keep: Annotated[
        int | None,
        typer.Option(
            min=1, help="Then delete all but the KEEP newest dated backups in that directory."
        ),
    ] = None,
) -> None:
    """Back up the database and the proof-of-delivery files into one archive, while lastmile
    runs (SQLite online backup / pg_dump)."""
    from rich.progress import Progress

    from lastmile.cli.server import checked_settings
    from lastmile.common.clock import utcnow
    from lastmile.ops.backup import BackupError, archive_path, create_backup, prune

    settings = checked_settings()
    target = archive_path(archive, f"{utcnow():%Y%m%d-%H%M%S}")
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("Backing up (database, then POD files)", total=None)
        try:
            manifest = create_backup(
                settings,
                target,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
        except BackupError as exc:
            console.print(f"[red]error:[/] {exc}")
            raise typer.Exit(1) from None
    size = target.stat().st_size / 1e6
    console.print(
        f"Wrote {target} ({size:.1f} MB): {manifest.database} database at migration "
        f"{manifest.migration}, {manifest.pod_files} proof-of-delivery files."
    )
    if keep is not None:
        for old in prune(target.parent, keep):
            console.print(f"Deleted the older backup {old.name}")


@app.command("restore")
def restore_command(
    archive: Annotated[Path, typer.Argument(help="A backup made by `lastmile admin backup`.")],
    force: Annotated[
        bool,
        typer.Option(help="Replace a database that already has data (stop lastmile first)."),
    ] = False,
) -> None:
    """Restore a backup into the configured database and data directory, then migrate it to
    this version."""
    from rich.progress import Progress

    from lastmile.cli.server import checked_settings
    from lastmile.ops.backup import BackupError, restore_backup

    settings = checked_settings()
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("Restoring (database, then POD files)", total=None)
        try:
            manifest = restore_backup(
                settings,
                archive,
                force=force,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
        except BackupError as exc:
            console.print(f"[red]error:[/] {exc}")
            raise typer.Exit(1) from None
    console.print(
        f"Restored the backup of {manifest.created_at} (lastmile {manifest.lastmile_version}): "
        f"{manifest.database} database, {manifest.pod_files} proof-of-delivery files."
    )


@app.command("erase-customer")
def erase_customer_command(
    org: Annotated[str, typer.Option("--org", help="Organisation name.")],
    email: Annotated[str | None, typer.Option(help="The customer's e-mail.")] = None,
    phone: Annotated[str | None, typer.Option(help="The customer's phone (any spacing).")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask before erasing.")] = False,
) -> None:
    """Erase a customer's personal data (name, phone, e-mail, address, notes, messages, POD
    photos and signatures) from their orders; the orders stay, anonymous, for the KPIs."""
    from lastmile.cli.server import checked_settings
    from lastmile.drivers.pod_store import store_for
    from lastmile.ops import erasure

    settings = checked_settings()
    try:
        with _sessions()() as session:
            organisation = orgs.get_by_name(session=session, name=org)
            ids = erasure.find_orders(
                session=session, org_id=organisation.id, email=email, phone=phone
            )
            if not ids:
                console.print("No orders of this customer: nothing to erase.")
                return
            if not yes and not typer.confirm(
                f"Erase the personal data of {len(ids)} orders of {org}? This cannot be undone."
            ):
                raise typer.Exit(1)
            report = erasure.erase_customer(
                session=session,
                store=store_for(settings),
                org_id=organisation.id,
                order_ids=ids,
                actor="cli",
            )
    except LastmileError as exc:
        fail(exc)
    console.print(
        f"Erased the personal data of {report.orders} orders: {report.pod_files} POD files, "
        f"{report.messages} messages, {report.tracking_links} tracking links ended."
    )
