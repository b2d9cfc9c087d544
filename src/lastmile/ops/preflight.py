"""Configuration checked before a process starts, with errors a server owner can act on.

A wrong setting should stop ``lastmile serve`` at once with the variable's name and what is
wrong, not surface later as a stack trace in the middle of a delivery day.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass

from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.engine import make_url

from lastmile.config import Settings
from lastmile.integrations.configured import server_url_problems


class ConfigError(Exception):
    """One or more settings are wrong; ``problems`` says which and why, one per line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Checked:
    settings: Settings
    database: str
    """Where the database is, without the password (to print)."""


def load_settings() -> Settings:
    """The settings from the environment (and ``.env``), or :class:`ConfigError` naming each
    wrong variable."""
    try:
        return Settings()
    except ValidationError as exc:
        raise ConfigError([_describe(error) for error in exc.errors()]) from None


def _describe(error: object) -> str:
    assert isinstance(error, dict)
    location = [str(part) for part in error.get("loc", ()) if part != "__root__"]
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    if not location:
        return message
    value = error.get("input")
    shown = f" (got {value!r})" if isinstance(value, str | int | float) else ""
    return f"LASTMILE_{location[0].upper()}: {message}{shown}"


def check(settings: Settings, *, database: bool = True) -> Checked:
    """Everything a server or worker needs before it starts: a writable data directory, an
    existing road extract if one is named, routing and geocoding servers the outbound policy
    lets us reach, a database that answers."""
    problems: list[str] = []
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=settings.data_dir, prefix=".write-test-"):
            pass
    except OSError as exc:
        problems.append(
            f"LASTMILE_DATA_DIR: cannot write to {settings.data_dir.resolve()}: {exc.strerror}"
        )
    if settings.roads_extract is not None and not settings.roads_extract.is_file():
        problems.append(f"LASTMILE_ROADS_EXTRACT: no such file: {settings.roads_extract}")
    problems.extend(server_url_problems(settings))
    url = make_url(settings.resolved_database_url)
    where = url.render_as_string(hide_password=True)
    if not url.drivername.startswith(("sqlite", "postgresql")):
        problems.append(
            f"LASTMILE_DATABASE_URL: {url.drivername!r} is not supported (sqlite or postgresql+psycopg)"
        )
    elif database and not problems:
        problems.extend(_database_answers(settings, where))
    if problems:
        raise ConfigError(problems)
    return Checked(settings=settings, database=where)


def _database_answers(settings: Settings, where: str) -> list[str]:
    from lastmile.db import create_db_engine

    engine = create_db_engine(settings.resolved_database_url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        first = str(getattr(exc, "orig", exc)).strip().splitlines()[0:1]
        return [f"LASTMILE_DATABASE_URL: cannot connect to {where}: {' '.join(first)}"]
    finally:
        engine.dispose()
    return []
