"""One archive with everything a restore needs: the database and the proof-of-delivery files.

SQLite is copied with SQLite's online backup API (a consistent copy while the server runs and
writes); PostgreSQL with ``pg_dump --format=custom`` (consistent in one transaction) and put
back with ``pg_restore``. The POD files are copied after the database, so every POD row in the
copy has its file (files are content-addressed and never changed, only added or erased).

Archive layout (a ``.tar.gz``, readable with ``tar`` alone)::

    lastmile-backup/manifest.json      format, version, migration, database kind, file count
    lastmile-backup/database.sqlite    or database.pgdump
    lastmile-backup/pod/...            the POD store's files, by key
    lastmile-backup/secret.key         the generated secret key, if the data dir has one

The archive holds customers' personal data: it is written readable by its owner only.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import make_url

from lastmile import __version__
from lastmile.common.clock import utcnow
from lastmile.config import Settings
from lastmile.db import create_db_engine, migrate
from lastmile.db.engine import alembic_config

FORMAT = 1
ROOT = "lastmile-backup"
Progress = Callable[[int, int], None]
"""Called with (files done, files in all) while POD files are copied."""


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why and what to do."""


@dataclass(frozen=True)
class Manifest:
    format: int
    lastmile_version: str
    created_at: str
    database: str  # "sqlite" or "postgresql"
    migration: str | None
    pod_files: int


def create_backup(
    settings: Settings, archive: Path, *, progress: Progress | None = None
) -> Manifest:
    """Write the database and the POD files of ``settings`` into ``archive`` (atomically)."""
    engine = create_db_engine(settings.resolved_database_url)
    try:
        migration = _current_migration(engine)
    finally:
        engine.dispose()
    pod_root = settings.data_dir / "pod"
    files = sorted(p for p in pod_root.rglob("*") if p.is_file() and not p.name.startswith("."))
    manifest = Manifest(
        format=FORMAT,
        lastmile_version=__version__,
        created_at=utcnow().isoformat(),
        database="postgresql" if settings.is_postgres else "sqlite",
        migration=migration,
        pod_files=len(files),
    )
    archive.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(dir=archive.parent, prefix=f".{archive.name}.", suffix=".part")
    os.close(fd)
    try:
        with tempfile.TemporaryDirectory(dir=settings.data_dir, prefix=".backup-") as work:
            dump = Path(work) / ("database.pgdump" if settings.is_postgres else "database.sqlite")
            if settings.is_postgres:
                _pg_dump(settings.resolved_database_url, dump)
            else:
                _sqlite_copy(_sqlite_path(settings), dump)
            with tarfile.open(partial, "w:gz", compresslevel=6) as tar:
                tar.add(dump, f"{ROOT}/{dump.name}")
                for done, path in enumerate(files, 1):
                    tar.add(path, f"{ROOT}/pod/{path.relative_to(pod_root).as_posix()}")
                    if progress:
                        progress(done, len(files))
                key = settings.data_dir / "secret.key"
                if not settings.secret_key and key.is_file():
                    tar.add(key, f"{ROOT}/secret.key")
                _add_bytes(tar, "manifest.json", json.dumps(asdict(manifest), indent=2).encode())
        os.chmod(partial, 0o600)
        os.replace(partial, archive)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    return manifest


def archive_path(target: Path | None, now: str) -> Path:
    """Where a backup goes: ``target`` itself, or a dated file inside it if it is a
    directory (the nightly timer's way), or a dated file here."""
    name = f"lastmile-backup-{now}.tar.gz"
    if target is None:
        return Path(name)
    if target.is_dir():
        return target / name
    return target


def prune(directory: Path, keep: int) -> list[Path]:
    """Delete all but the ``keep`` newest dated backups in ``directory``; returns the deleted."""
    dated = sorted(directory.glob("lastmile-backup-*.tar.gz"), key=lambda p: p.name, reverse=True)
    removed = dated[keep:]
    for path in removed:
        path.unlink(missing_ok=True)
    return removed


def read_manifest(archive: Path) -> Manifest:
    try:
        with tarfile.open(archive, "r:*") as tar:
            member = tar.extractfile(f"{ROOT}/manifest.json")
            assert member is not None
            data = json.loads(member.read())
    except (OSError, KeyError, tarfile.TarError, ValueError, AssertionError) as exc:
        raise BackupError(f"{archive} is not a lastmile backup ({exc})") from None
    if data.get("format") != FORMAT:
        raise BackupError(
            f"{archive} has backup format {data.get('format')}, this lastmile reads {FORMAT}"
        )
    return Manifest(**data)


def restore_backup(
    settings: Settings, archive: Path, *, force: bool = False, progress: Progress | None = None
) -> Manifest:
    """Put the database and POD files of ``archive`` in place of those of ``settings``.

    Refuses a database that already has organisations unless ``force`` (the servers must be
    stopped then), a backup of the other database kind, and a backup from a newer lastmile
    (a migration this code does not know). Afterwards the database is migrated to this
    version's newest migration, so an old backup restores into a new version.
    """
    manifest = read_manifest(archive)
    kind = "postgresql" if settings.is_postgres else "sqlite"
    if manifest.database != kind:
        raise BackupError(
            f"this backup holds a {manifest.database} database and lastmile is configured for "
            f"{kind} (LASTMILE_DATABASE_URL); restore it into {manifest.database}"
        )
    engine = create_db_engine(settings.resolved_database_url)
    try:
        if manifest.migration is not None:
            try:
                known = ScriptDirectory.from_config(alembic_config(engine)).get_revision(
                    manifest.migration
                )
            except CommandError:
                known = None
            if known is None:
                raise BackupError(
                    f"the backup is at migration {manifest.migration}, which this lastmile "
                    f"({__version__}) does not know: restore it with the version that made it "
                    f"({manifest.lastmile_version}) or newer"
                )
        if not force and _has_organisations(engine):
            raise BackupError(
                "the database already holds organisations; stop lastmile and add --force to "
                "replace everything in it with the backup"
            )
    finally:
        engine.dispose()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=settings.data_dir, prefix=".restore-") as work:
        with tarfile.open(archive, "r:*") as tar:
            members = [m for m in tar.getmembers() if m.isfile()]
            for member in members:
                if not member.name.startswith(f"{ROOT}/"):
                    raise BackupError(f"unexpected file in the backup: {member.name}")
            tar.extractall(work, members=members, filter="data")
        unpacked = Path(work) / ROOT
        if settings.is_postgres:
            _pg_restore(settings.resolved_database_url, unpacked / "database.pgdump")
        else:
            _sqlite_copy(unpacked / "database.sqlite", _sqlite_path(settings))
        _restore_files(unpacked / "pod", settings.data_dir / "pod", progress)
        key = unpacked / "secret.key"
        target_key = settings.data_dir / "secret.key"
        if key.is_file() and not settings.secret_key and not target_key.exists():
            shutil.copyfile(key, target_key)
            target_key.chmod(0o600)
    engine = create_db_engine(settings.resolved_database_url)
    try:
        migrate(engine)
    finally:
        engine.dispose()
    return manifest


# --------------------------------------------------------------------------- helpers


def _current_migration(engine: Engine) -> str | None:
    with engine.connect() as conn:
        revision: str | None = MigrationContext.configure(conn).get_current_revision()
        return revision


def _has_organisations(engine: Engine) -> bool:
    if not inspect(engine).has_table("organisations"):
        return False
    with engine.connect() as conn:
        return conn.execute(text("SELECT 1 FROM organisations LIMIT 1")).first() is not None


def _sqlite_path(settings: Settings) -> Path:
    url = make_url(settings.resolved_database_url)
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up or restored")
    return Path(url.database)


def _sqlite_copy(source: Path, target: Path) -> None:
    """SQLite's online backup: a consistent copy page by page, while others write."""
    if not source.is_file():
        raise BackupError(f"no SQLite database at {source}")
    target.parent.mkdir(parents=True, exist_ok=True)
    with _sqlite(source) as src, _sqlite(target) as dst:
        src.backup(dst)


@contextmanager
def _sqlite(path: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(path, timeout=30)
    try:
        yield conn
    finally:
        conn.close()


def _libpq_env(url: str) -> dict[str, str]:
    """libpq's environment for ``pg_dump``/``pg_restore``: the password never appears on a
    command line (where ``ps`` would show it)."""
    parsed = make_url(url)
    env = {**os.environ}
    socket_dir = parsed.query.get("host")  # postgresql+psycopg://user@/db?host=/run/postgresql
    for name, value in (
        ("PGHOST", parsed.host or (socket_dir if isinstance(socket_dir, str) else None)),
        ("PGPORT", str(parsed.port) if parsed.port else None),
        ("PGUSER", parsed.username),
        ("PGPASSWORD", parsed.password),
        ("PGDATABASE", parsed.database),
    ):
        if value:
            env[name] = value
    return env


def _run(command: list[str], url: str) -> None:
    try:
        done = subprocess.run(command, env=_libpq_env(url), capture_output=True, text=True)
    except FileNotFoundError:
        raise BackupError(
            f"{command[0]} is not installed (Debian: apt-get install postgresql-client)"
        ) from None
    if done.returncode != 0:
        raise BackupError(f"{command[0]} failed: {done.stderr.strip()[-2000:]}")


def _pg_dump(url: str, target: Path) -> None:
    _run(
        ["pg_dump", "--format=custom", "--no-owner", "--no-privileges", "--file", str(target)], url
    )


def _pg_restore(url: str, dump: Path) -> None:
    _run(
        [
            "pg_restore",
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--dbname",
            make_url(url).database or "",
            str(dump),
        ],
        url,
    )


def _restore_files(source: Path, target: Path, progress: Progress | None) -> None:
    files = sorted(p for p in source.rglob("*") if p.is_file()) if source.is_dir() else []
    for done, path in enumerate(files, 1):
        destination = target / path.relative_to(source)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, destination)
        if progress:
            progress(done, len(files))


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    import io

    info = tarfile.TarInfo(f"{ROOT}/{name}")
    info.size = len(data)
    info.mode = 0o600
    tar.addfile(info, io.BytesIO(data))
