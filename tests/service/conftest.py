"""Service tests run once on SQLite and once on PostgreSQL (127.0.0.1:5432).

Each backend gets one app (migrations run once); every test starts from empty tables.
Without a reachable PostgreSQL, the PostgreSQL runs are skipped with a message, except in
CI (``CI=true``), where that is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from lastmile.app import create_app
from lastmile.config import Settings
from lastmile.db.migrations.models import metadata
from lastmile.tracking import counters

PG_ADMIN = os.environ.get("LASTMILE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _postgres_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    if not _postgres_available():
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN} (required in CI)")
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN}: PostgreSQL runs skipped")
    name = f"lastmile_test_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0]
    yield f"{base}/{name}".replace("postgresql://", "postgresql+psycopg://", 1)
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def app_client(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    data_dir: Path = tmp_path_factory.mktemp(f"data-{request.param}")
    if request.param == "sqlite":
        url = f"sqlite:///{data_dir / 'lastmile.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    settings = Settings(
        database_url=url,
        data_dir=data_dir,
        use_roads=False,
        jobs="inline",
        secret_key="test-secret",
        plan_time_limit_s=1.0,
        geocode_imports=False,  # tests that want the geocoding job run it themselves
    )
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture
def client(app_client: TestClient) -> Iterator[TestClient]:
    """The backend's app, with every table emptied after the test."""
    yield app_client
    engine = app_client.app.state.engine  # type: ignore[attr-defined]
    counters.flush(engine)  # the views and rate-limit hits the server holds in memory, too
    tables = [t.name for t in reversed(metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(
                text(
                    "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"
                )
            )
        else:
            for table in tables:
                conn.execute(text(f'DELETE FROM "{table}"'))
