"""``lastmile admin``: create organisations and users (setup, support)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy.orm import Session, sessionmaker

from lastmile.auth import service as auth
from lastmile.cli.common import fail
from lastmile.config import get_settings
from lastmile.core.errors import LastmileError, NotFound
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
    password: Annotated[str, typer.Option(help="That admin's password (min. 8 characters).")],
    timezone: Annotated[str, typer.Option(help="IANA time zone of the delivery windows.")] = "UTC",
) -> None:
    """Create an organisation and its first admin."""
    try:
        with _sessions()() as session:
            org = orgs.create(session=session, name=name, timezone=timezone)
            try:
                user = auth.get_user_by_email(session=session, email=admin_email)
            except NotFound:
                user = auth.create_user(session=session, email=admin_email, password=password)
            orgs.add_member(session=session, org_id=org.id, user_id=user.id, role=Role.ADMIN)
    except LastmileError as exc:
        fail(exc)
    console.print(f"Created organisation [bold]{name}[/] ({org.id}) with admin {user.email}")


@app.command("create-user")
def create_user(
    org: Annotated[str, typer.Option("--org", help="Organisation name.")],
    email: Annotated[str, typer.Option(help="Login e-mail.")],
    password: Annotated[str, typer.Option(help="Password (min. 8 characters).")],
    role: Annotated[Role, typer.Option(help="admin, dispatcher or driver.")] = Role.DISPATCHER,
    name: Annotated[str, typer.Option(help="Display name.")] = "",
) -> None:
    """Create a user (or add an existing one) in an organisation with a role."""
    try:
        with _sessions()() as session:
            organisation = orgs.get_by_name(session=session, name=org)
            try:
                user = auth.get_user_by_email(session=session, email=email)
            except NotFound:
                user = auth.create_user(session=session, email=email, password=password, name=name)
            orgs.add_member(session=session, org_id=organisation.id, user_id=user.id, role=role)
    except LastmileError as exc:
        fail(exc)
    console.print(f"{user.email} is {role.value} of [bold]{org}[/]")
