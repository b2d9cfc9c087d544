"""Restore drill on SQLite and PostgreSQL: a day with a delivered order and its POD photo is
backed up while the server runs, restored into a fresh data directory and database, and a
server on the restored copy lets the dispatcher log in and open the photo."""

from __future__ import annotations

import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from helpers.service import PASSWORD, sqlite_settings
from lastmile.app import create_app
from lastmile.config import Settings
from lastmile.ops.backup import BackupError, create_backup, read_manifest, restore_backup
from service.conftest import PG_ADMIN
from service.test_driver_api import JPEG, ev, plan_day, send


@pytest.fixture
def fresh_target(client: TestClient, tmp_path: Path) -> Iterator[Settings]:
    """Settings of an empty install of the same kind as the backend under test."""
    source: Settings = client.app.state.settings  # type: ignore[attr-defined]
    data_dir = tmp_path / "restored"
    if not source.is_postgres:
        yield sqlite_settings(data_dir)
        return
    name = f"lastmile_restore_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    yield sqlite_settings(data_dir, database_url=f"{base}/{name}")
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_restore_drill(client: TestClient, fresh_target: Settings, tmp_path: Path) -> None:
    day = plan_day(client, "Drill")
    first = day.stops[0]
    send(
        client,
        day,
        ev("d-start", "route_started", day.at(0), lon=9.5087, lat=47.1657),
        ev("d-deliver", "delivered", day.at(60), first["id"], lon=9.52, lat=47.14, recipient="Ann"),
    )
    photo = client.post(
        "/api/v1/driver/pod",
        files={"file": ("p.jpg", JPEG, "image/jpeg")},
        data={"kind": "photo", "event_key": "d-deliver"},
        headers=day.org.driver,
    )
    assert photo.status_code == 201, photo.text
    pod_id = photo.json()["id"]
    orders_before = client.get("/api/v1/orders?limit=100", headers=day.org.dispatcher).json()

    archive = tmp_path / "backups" / "drill.tar.gz"
    source: Settings = client.app.state.settings  # type: ignore[attr-defined]
    manifest = create_backup(source, archive)  # the source server keeps running
    assert manifest.pod_files == 1 and manifest.migration
    assert archive.stat().st_mode & 0o077 == 0  # personal data: owner only
    assert read_manifest(archive) == manifest
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert any(n.startswith("lastmile-backup/pod/") for n in names)

    seen: list[tuple[int, int]] = []
    restore_backup(fresh_target, archive, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (1, 1)

    with TestClient(create_app(fresh_target)) as restored:
        login = restored.post(
            "/api/v1/auth/token",
            json={"email": "dispatcher@drill.example", "password": PASSWORD},
        )
        assert login.status_code == 200, login.text
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        file = restored.get(f"/api/v1/pod/{pod_id}/file", headers=headers)
        assert file.status_code == 200 and file.content == JPEG
        assert file.headers["content-type"] == "image/jpeg"
        after = restored.get("/api/v1/orders?limit=100", headers=headers).json()
        assert after == orders_before
        assert restored.get("/readyz").status_code == 200

    with pytest.raises(BackupError, match="--force"):
        restore_backup(fresh_target, archive)
    restore_backup(fresh_target, archive, force=True)  # the same again, replacing everything


def test_a_backup_of_the_other_kind_or_not_a_backup_is_refused(
    client: TestClient, fresh_target: Settings, tmp_path: Path
) -> None:
    source: Settings = client.app.state.settings  # type: ignore[attr-defined]
    archive = create_backup(source, tmp_path / "b.tar.gz") and tmp_path / "b.tar.gz"
    other = (
        sqlite_settings(tmp_path / "sqlite")
        if source.is_postgres
        else sqlite_settings(tmp_path / "pg", database_url="postgresql+psycopg://x@127.0.0.1:1/x")
    )
    with pytest.raises(BackupError, match="restore it into"):
        restore_backup(other, archive)
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a tar file")
    with pytest.raises(BackupError, match="not a lastmile backup"):
        restore_backup(fresh_target, junk)
