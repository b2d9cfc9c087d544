"""Engines and sessions for SQLite (embedded, WAL) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker


def create_db_engine(url: str, **kwargs: Any) -> Engine:
    """An engine with the settings each backend needs.

    SQLite: WAL (readers don't block the writer), foreign keys on, a busy timeout so two
    threads writing at once wait instead of failing.
    """
    if url.startswith("sqlite"):
        if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


class LastmileSession(Session):
    """The session class of every lastmile session (after-commit listeners hang off it)."""


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, class_=LastmileSession)


def alembic_config(engine: Engine) -> Config:
    migrations = Path(str(resources.files("lastmile") / "db" / "migrations"))
    config = Config()
    config.set_main_option("script_location", str(migrations))
    config.attributes["engine"] = engine
    return config


@contextmanager
def exclusive(engine: Engine, name: str) -> Iterator[None]:
    """Run the block in one process at a time, across every process on this database.

    Several ``lastmile serve`` processes (and workers) started together on a fresh database
    would otherwise all create the same tables at once, and all but one fail. PostgreSQL: a
    session-level advisory lock named ``name``; SQLite has one process, so nothing to do.
    """
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(hashtext(:name))"), {"name": name})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(hashtext(:name))"), {"name": name})
            conn.commit()


def migrate(engine: Engine) -> None:
    """Bring the database schema to the newest migration (idempotent; one process at a time)."""
    with exclusive(engine, "lastmile.migrate"):
        command.upgrade(alembic_config(engine), "head")
