"""`lastmile admin migrate`, `lastmile admin check` and the start-up configuration check,
run as a server owner would (a fresh process with only environment variables)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

LASTMILE = [sys.executable, "-m", "lastmile.cli"]


def run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LASTMILE_")}
    return subprocess.run(
        [*LASTMILE, *args],
        env={
            **clean,
            "LASTMILE_DATA_DIR": str(tmp_path / "data"),
            "LASTMILE_USE_ROADS": "false",
            **env,
        },
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_wrong_settings_stop_the_server_naming_each_variable(tmp_path: Path) -> None:
    result = run(
        ["serve", "--port", "1"],
        tmp_path,
        LASTMILE_PLAN_TIME_LIMIT_S="-1",
        LASTMILE_PUBLIC_URL="deliveries.example.com/track",
    )
    assert result.returncode == 2, result.stderr
    assert "LASTMILE_PLAN_TIME_LIMIT_S: Input should be greater than 0 (got '-1')" in result.stderr
    assert "LASTMILE_PUBLIC_URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_production_needs_its_public_address_and_key(tmp_path: Path) -> None:
    result = run(["worker"], tmp_path, LASTMILE_ENVIRONMENT="production")
    assert result.returncode == 2
    assert "LASTMILE_SECRET_KEY must be set" in result.stderr
    result = run(
        ["worker"], tmp_path, LASTMILE_ENVIRONMENT="production", LASTMILE_SECRET_KEY="k" * 32
    )
    assert result.returncode == 2
    assert "LASTMILE_PUBLIC_URL must be set" in result.stderr


def test_an_unreachable_database_is_named_without_its_password(tmp_path: Path) -> None:
    result = run(
        ["admin", "migrate"],
        tmp_path,
        LASTMILE_DATABASE_URL="postgresql+psycopg://lastmile:hunter2@127.0.0.1:1/lastmile",
    )
    assert result.returncode == 2
    assert (
        "LASTMILE_DATABASE_URL: cannot connect to postgresql+psycopg://lastmile:***@127.0.0.1:1/lastmile"
        in result.stderr
    )
    assert "hunter2" not in result.stderr


def test_a_data_dir_that_cannot_be_written_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = run(["admin", "check"], tmp_path, LASTMILE_DATA_DIR=str(blocker / "data"))
    assert result.returncode == 2
    assert "LASTMILE_DATA_DIR: cannot write to" in result.stderr


def test_migrate_then_check(tmp_path: Path) -> None:
    first = run(["admin", "migrate"], tmp_path)
    assert first.returncode == 0, first.stderr
    assert "Migrating the database from empty to" in first.stdout
    again = run(["admin", "migrate"], tmp_path)
    assert again.returncode == 0 and "up to date" in again.stdout
    check = run(["admin", "check"], tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr
    for name in ("database", "migrations", "queue", "roads"):
        assert f"{name}" in check.stdout
    assert "ok" in check.stdout
