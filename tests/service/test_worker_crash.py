"""A job whose worker dies is retried by another worker, and runs to completion once.

PostgreSQL + procrastinate: worker A takes a long plan job and is killed with SIGKILL (no
chance to clean up); worker B notices the stalled job (no heartbeat for 30 s), puts it back
in the queue and solves the plan.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from helpers.live import free_port

LASTMILE = [sys.executable, "-m", "lastmile.cli"]
SAMPLE = Path(__file__).parents[2] / "src" / "lastmile" / "data" / "sample"


def _wait(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.long  # 30 s heartbeat plus a 25 s plan (make test-long)
def test_killed_worker_job_is_retried_by_another(postgres_url: str, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "LASTMILE_DATABASE_URL": postgres_url,
        "LASTMILE_DATA_DIR": str(tmp_path),
        "LASTMILE_SECRET_KEY": "crash-test",
        "LASTMILE_USE_ROADS": "false",
    }
    subprocess.run(
        [
            *LASTMILE,
            "admin",
            "create-org",
            "Crash Co",
            "--admin-email",
            "ops@crash.example",
            "--password",
            "crash-test-pw",
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    port = free_port()
    server = subprocess.Popen(
        [*LASTMILE, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    workers: list[subprocess.Popen[bytes]] = []
    try:
        url = f"http://127.0.0.1:{port}"
        _wait(lambda: _up(url), 30, "the server")
        token = httpx.post(
            f"{url}/api/v1/auth/token",
            json={"email": "ops@crash.example", "password": "crash-test-pw"},
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        httpx.post(
            f"{url}/api/v1/vehicles/import",
            files={"file": ("v.csv", (SAMPLE / "sample_vehicles.csv").read_bytes())},
            headers=headers,
        ).raise_for_status()
        httpx.post(
            f"{url}/api/v1/orders/import?date=2026-11-25",
            files={"file": ("o.csv", (SAMPLE / "sample_day_orders.csv").read_bytes())},
            headers=headers,
        ).raise_for_status()
        plan_id = httpx.post(
            f"{url}/api/v1/plans", json={"date": "2026-11-25", "time_limit_s": 25}, headers=headers
        ).json()["id"]

        def status() -> str:
            return str(httpx.get(f"{url}/api/v1/plans/{plan_id}", headers=headers).json()["status"])

        workers.append(
            subprocess.Popen(
                [*LASTMILE, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
        )
        _wait(lambda: status() == "running", 60, "worker A to start the plan")
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait(timeout=10)
        assert status() == "running"  # nobody finished it
        workers.append(
            subprocess.Popen(
                [*LASTMILE, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
        )
        _wait(lambda: status() == "done", 240, "worker B to retry and finish the plan")
        plan = httpx.get(f"{url}/api/v1/plans/{plan_id}", headers=headers).json()
        assert plan["totals"]["orders"] == 150
        events = [e for e in _events(url, headers) if e["data"].get("plan_id") == plan_id]
        assert [e["type"] for e in events].count("plan.done") == 1
    finally:
        for proc in [server, *workers]:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()


def _up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/docs", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _events(url: str, headers: dict[str, str]) -> list[dict[str, object]]:
    import json

    found: list[dict[str, object]] = []
    with httpx.stream(
        "GET", f"{url}/api/v1/events", params={"last_event_id": "0"}, headers=headers, timeout=30
    ) as response:
        for line in response.iter_lines():
            if line.startswith("data: "):
                found.append(json.loads(line[6:]))
            elif line.startswith(": keep-alive") or (found and line == "" and len(found) > 5000):
                break
            if line.startswith(": connected"):
                continue
    return found
