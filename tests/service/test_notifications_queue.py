"""Notifications in the production shape: PostgreSQL, a `lastmile serve` process and a
`lastmile worker` (procrastinate). A dispatch through the server enqueues the notification
job in procrastinate's queue; the worker sends the messages (apprise ``json://`` to a local
receiver) and writes the log.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from helpers.live import Receiver, free_port

LASTMILE = [sys.executable, "-m", "lastmile.cli"]


@pytest.fixture
def server(postgres_url: str, tmp_path: Path) -> Iterator[str]:
    env = {
        **os.environ,
        "LASTMILE_DATABASE_URL": postgres_url,
        "LASTMILE_DATA_DIR": str(tmp_path),
        "LASTMILE_SECRET_KEY": "notify-queue-test",
        "LASTMILE_USE_ROADS": "false",
        "LASTMILE_GEOCODE_IMPORTS": "false",
        "LASTMILE_PLAN_TIME_LIMIT_S": "1",
        "LASTMILE_PUBLIC_URL": "https://track.example",
    }
    subprocess.run(
        [
            *LASTMILE,
            "admin",
            "create-org",
            "Notify Queue",
            "--admin-email",
            "ops@queue.example",
            "--password",
            "notify-queue-pw",
            "--timezone",
            "Europe/Vaduz",
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    port = free_port()
    procs = [
        subprocess.Popen(
            [*LASTMILE, "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
        subprocess.Popen(
            [*LASTMILE, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        ),
    ]
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90  # a busy machine starts a server slowly
        while True:
            try:
                if httpx.get(f"{url}/docs", timeout=1).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "server did not come up"
            time.sleep(0.2)
        yield url
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.mark.slow
def test_dispatch_on_the_server_messages_sent_by_the_worker(server: str) -> None:
    token = httpx.post(
        f"{server}/api/v1/auth/token",
        json={"email": "ops@queue.example", "password": "notify-queue-pw"},
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    with Receiver() as receiver:
        r = httpx.put(
            f"{server}/api/v1/notifications/settings",
            json={
                "notifications": {
                    "sms_url": receiver.url.replace("http://", "json://") + "?:to={phone}",
                    "kinds": ["confirmed"],
                }
            },
            headers=headers,
        )
        assert r.status_code == 200, r.text
        vehicles = (
            "id,name,start_lon,start_lat,shift_start,shift_end,capacity_parcels\n"
            "VAN-1,Van 1,9.5087,47.1657,08:00,18:00,10\n"
        )
        orders = (
            "id,lon,lat,parcels,customer,phone\n"
            "Q1,9.52,47.14,1,Ann,+423 111\nQ2,9.53,47.15,1,Ben,+423 222\n"
        )
        for path, body in (
            ("/api/v1/vehicles/import", vehicles),
            ("/api/v1/orders/import?date=2026-11-25", orders),
        ):
            r = httpx.post(server + path, files={"file": ("f.csv", body.encode())}, headers=headers)
            assert r.status_code in (200, 201), r.text
        plan_id = httpx.post(
            f"{server}/api/v1/plans", json={"date": "2026-11-25"}, headers=headers
        ).json()["id"]
        deadline = time.monotonic() + 60
        while httpx.get(f"{server}/api/v1/plans/{plan_id}", headers=headers).json()[
            "status"
        ] not in ("done", "failed"):
            assert time.monotonic() < deadline, "the worker did not solve the plan"
            time.sleep(0.3)
        r = httpx.post(f"{server}/api/v1/plans/{plan_id}/dispatch", json={}, headers=headers)
        assert r.status_code == 200, r.text
        receiver.wait_for(2, timeout=60)
        sent = sorted(json.loads(body)["to"] for _, body in receiver.requests)
        assert sent == ["+423 111", "+423 222"]
        rows = httpx.get(f"{server}/api/v1/notifications", headers=headers).json()
        assert sorted((r["recipient"], r["status"]) for r in rows) == [
            ("+423 111", "sent"),
            ("+423 222", "sent"),
        ]
        body = json.loads(receiver.requests[0][1])["message"]
        assert "https://track.example/t/" in body
