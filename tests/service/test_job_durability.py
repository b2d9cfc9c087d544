"""Background jobs survive a restart of the real server: webhook retries and geocoding.

SQLite (embedded, jobs run in the server process): every job is stored before it runs and
removed once it ran, so a retry waiting when the server is stopped (SIGTERM) or a geocoding
job running when it is killed (SIGKILL) runs after the next start. PostgreSQL: the same
webhook retry, with procrastinate and a ``lastmile worker``, both stopped and restarted.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx
import psycopg
import pytest

from helpers.live import Receiver, free_port

LASTMILE = [sys.executable, "-m", "lastmile.cli"]
PG_ADMIN = os.environ.get("LASTMILE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
EMAIL, PASSWORD = "ops@durable.example", "durable-test-pw"


def _wait(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/docs", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


class Service:
    """``lastmile serve`` (and on PostgreSQL a ``lastmile worker``) as real processes."""

    def __init__(self, env: dict[str, str], *, worker: bool) -> None:
        self.env, self.worker = env, worker
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.procs: list[subprocess.Popen[bytes]] = []
        subprocess.run(
            [
                *LASTMILE,
                "admin",
                "create-org",
                "Durable",
                "--admin-email",
                EMAIL,
                "--password",
                PASSWORD,
            ],
            env=env,
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        self.procs = [self._spawn("serve", "--port", str(self.port))]
        if self.worker:
            self.procs.append(self._spawn("worker"))
        _wait(lambda: _up(self.url), 60, "the server")

    def _spawn(self, *args: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [*LASTMILE, *args],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: SIGKILL reaches job processes too
        )

    def stop(self, sig: signal.Signals) -> None:
        """SIGTERM: the server stops as it would under systemd; SIGKILL: the whole process
        group dies at once (a crash, an out-of-memory kill), job processes included."""
        for proc in self.procs:
            if sig == signal.SIGKILL:
                os.killpg(proc.pid, sig)
            else:
                proc.send_signal(sig)
        for proc in self.procs:
            proc.wait(timeout=60)

    def headers(self) -> dict[str, str]:
        token = httpx.post(
            f"{self.url}/api/v1/auth/token", json={"email": EMAIL, "password": PASSWORD}
        ).json()["access_token"]
        return {"Authorization": f"Bearer {token}"}


@contextmanager
def _service(env: dict[str, str], *, worker: bool = False) -> Iterator[Service]:
    service = Service(env, worker=worker)
    try:
        yield service
    finally:
        for proc in service.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture
def fresh_postgres() -> Iterator[str]:
    """A database of its own (the servers here must not meet other tests' rows)."""
    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=3):
            pass
    except psycopg.Error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN} (required in CI)")
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN}")
    name = f"lastmile_durable_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield (
        PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1) + "/" + name
    )
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _env(tmp_path: Path, database_url: str | None = None) -> dict[str, str]:
    env = {
        **os.environ,
        "LASTMILE_DATA_DIR": str(tmp_path),
        "LASTMILE_SECRET_KEY": "durable-test",
        "LASTMILE_USE_ROADS": "false",
    }
    if database_url:
        env["LASTMILE_DATABASE_URL"] = database_url
    return env


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_webhook_retry_survives_a_restart(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("fresh_postgres") if backend == "postgresql" else None
    with Receiver() as receiver, _service(_env(tmp_path, url), worker=url is not None) as service:
        service.start()
        headers = service.headers()
        hook = httpx.post(
            f"{service.url}/api/v1/webhooks",
            json={"url": receiver.url, "event_types": ["order.created"]},
            headers=headers,
        )
        assert hook.status_code == 201, hook.text
        receiver.status = 500
        created = httpx.post(
            f"{service.url}/api/v1/orders",
            json={"external_id": "W1", "lon": 9.5174, "lat": 47.1435},
            headers=headers,
        )
        assert created.status_code in (200, 201), created.text
        receiver.wait_for(1, timeout=30)  # the first attempt failed: a retry is waiting
        receiver.status = 200
        service.stop(signal.SIGTERM)
        time.sleep(1)
        assert len(receiver.requests) == 1

        service.start()
        receiver.wait_for(2, timeout=60)  # the retry (due 10 s after the first attempt)
        deliveries = httpx.get(
            f"{service.url}/api/v1/webhooks/{hook.json()['id']}/deliveries",
            headers=service.headers(),
        ).json()
        assert [(d["status"], d["attempts"]) for d in deliveries] == [("delivered", 2)]


ADDRESSES = (
    "id,address,parcels\n"
    'K1,"Landstr. 19, 9490 Vaduz",1\n'
    'K2,"Foppastrasse 3, 9497 Triesenberg",1\n'
    'K3,"Nirgendwostrasse 999, 9490 Vaduz",1\n'
)


@pytest.mark.slow
def test_geocoding_job_survives_a_killed_server(tmp_path: Path) -> None:
    with _service(_env(tmp_path)) as service:
        service.start()
        imported = httpx.post(
            f"{service.url}/api/v1/orders/import?date=2026-11-25",
            files={"file": ("o.csv", ADDRESSES.encode())},
            headers=service.headers(),
        )
        assert imported.status_code == 200, imported.text
        service.stop(signal.SIGKILL)  # no chance to finish (or to clean up)
        with sqlite3.connect(tmp_path / "lastmile.db") as db:
            pending = db.execute(
                "SELECT count(*) FROM orders WHERE address_verdict IS NULL"
            ).fetchone()[0]
        assert pending == 3  # killed before the job geocoded anything

        service.start()

        def verdicts() -> dict[str, tuple[str, str | None]]:
            items = httpx.get(
                f"{service.url}/api/v1/orders?date=2026-11-25", headers=service.headers()
            ).json()["items"]
            return {o["external_id"]: (o["status"], o["address_verdict"]) for o in items}

        _wait(lambda: all(v[1] is not None for v in verdicts().values()), 60, "geocoding")
        found = verdicts()
        assert found["K1"] == ("ready", "corrected") and found["K2"] == ("ready", "exact")
        assert found["K3"][0] == "new" and found["K3"][1] in ("not_found", "ambiguous")
