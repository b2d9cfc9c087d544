"""Production shape on PostgreSQL: two `lastmile serve` processes and one `lastmile worker`.

A plan created through server A is solved by the worker, and its events reach an SSE client
connected to server B (PostgreSQL LISTEN/NOTIFY across processes).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from helpers.live import free_port

SAMPLE = Path(__file__).parents[2] / "src" / "lastmile" / "data" / "sample"
LASTMILE = [sys.executable, "-m", "lastmile.cli"]


def _wait_http(url: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not come up")


@pytest.fixture(scope="module")
def stack(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    tmp_path = tmp_path_factory.mktemp("two-processes")
    env = {
        **os.environ,
        "LASTMILE_DATABASE_URL": postgres_url,
        "LASTMILE_DATA_DIR": str(tmp_path),
        "LASTMILE_SECRET_KEY": "two-process-test",
        "LASTMILE_USE_ROADS": "false",
        "LASTMILE_PLAN_TIME_LIMIT_S": "1",
    }
    # A clean schema: the session's other PostgreSQL tests share this database.
    subprocess.run(
        [
            *LASTMILE,
            "admin",
            "create-org",
            "Two Process",
            "--admin-email",
            "ops@two.example",
            "--password",
            "two-process-pw",
            "--timezone",
            "Europe/Vaduz",
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    ports = [free_port(), free_port()]
    procs = [
        subprocess.Popen(
            [*LASTMILE, "serve", "--port", str(p)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for p in ports
    ]
    procs.append(
        subprocess.Popen(
            [*LASTMILE, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
    )
    try:
        urls = [f"http://127.0.0.1:{p}" for p in ports]
        for url in urls:
            _wait_http(f"{url}/docs")
        yield urls[0], urls[1]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.mark.slow
def test_plan_via_server_a_solved_by_worker_seen_on_server_b(stack: tuple[str, str]) -> None:
    a, b = stack
    token = httpx.post(
        f"{a}/api/v1/auth/token", json={"email": "ops@two.example", "password": "two-process-pw"}
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    vehicles = (SAMPLE / "sample_vehicles.csv").read_bytes()
    assert httpx.post(
        f"{a}/api/v1/vehicles/import", files={"file": ("v.csv", vehicles)}, headers=headers
    ).status_code in (200, 201)
    orders = (
        b"id,lon,lat,parcels,weight_kg\nT1,9.52,47.14,1,2\nT2,9.53,47.15,2,3\nT3,9.50,47.10,1,1\n"
    )
    assert httpx.post(
        f"{a}/api/v1/orders/import?date=2026-11-25",
        files={"file": ("o.csv", orders)},
        headers=headers,
    ).status_code in (200, 201)

    seen: list[dict[str, object]] = []
    connected = threading.Event()

    def listen() -> None:
        with httpx.stream("GET", f"{b}/api/v1/events", headers=headers, timeout=60) as response:
            for line in response.iter_lines():
                if line.startswith(": connected"):
                    connected.set()
                if line.startswith("data: "):
                    seen.append(json.loads(line[6:]))
                    if seen[-1]["type"] in ("plan.done", "plan.failed"):
                        return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    assert connected.wait(20)
    # The stream is open on B; A's /metrics adds up every process of the install.
    assert _metric(a, "lastmile_sse_clients") == 1
    created = httpx.post(f"{a}/api/v1/plans", json={"date": "2026-11-25"}, headers=headers)
    assert created.status_code == 202
    listener.join(timeout=90)
    types = [e["type"] for e in seen]
    assert "plan.queued" in types and "plan.running" in types, types
    assert types[-1] == "plan.done", seen[-1]
    plan = httpx.get(f"{b}/api/v1/plans/{created.json()['id']}", headers=headers).json()
    assert plan["status"] == "done" and plan["totals"]["routed"] == 3

    # Metrics of all three processes, from either server (prometheus-client multiprocess):
    # the plan was solved by the worker, the POST answered by A, the stream served by B.
    for url in (a, b):
        assert _metric(url, "lastmile_plans_solved_total", outcome="done") == 1
        assert _metric(url, "lastmile_job_duration_seconds_count", job="solve_plan") >= 1
        assert (
            _metric(url, "lastmile_http_requests_total", route="/api/v1/plans", status="202") == 1
        )
        assert (
            _metric(url, "lastmile_http_requests_total", route="/api/v1/events", status="200") == 1
        )
    listener.join(timeout=5)
    deadline = time.monotonic() + 10
    while _metric(a, "lastmile_sse_clients") != 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _metric(a, "lastmile_sse_clients") == 0
    ready = httpx.get(f"{a}/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["queue"] == "ok", ready.text


def _metric(url: str, name: str, **labels: str) -> float:
    """One sample summed over the label sets that match (0 if absent)."""
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for family in text_string_to_metric_families(httpx.get(f"{url}/metrics").text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                total += s.value
    return total


@pytest.mark.slow
def test_login_limit_holds_across_two_servers(stack: tuple[str, str]) -> None:
    """20 parallel wrong passwords spread over both servers: exactly the limit (5) are
    checked, because each attempt is counted in one atomic statement before the check."""
    servers = list(stack)

    def attempt(i: int) -> int:
        return httpx.post(
            f"{servers[i % 2]}/api/v1/auth/token",
            json={"email": "guessed@two.example", "password": f"wrong-{i}"},
            timeout=30,
        ).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        codes = list(pool.map(attempt, range(20)))
    assert codes.count(401) == 5, codes
    assert codes.count(429) == 15, codes
