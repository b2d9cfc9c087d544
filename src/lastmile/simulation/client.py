"""Talking to the server as a staff member would: logins, the fleet, plans and routes.

Every request the simulation makes outside the phones' own driver-app calls is here, and
:func:`_check` turns an answer the simulation cannot go on from into a
:class:`SimulationError`, the one error the commands print.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import httpx

from lastmile.core.model import Profile

DEPOT = (9.5087, 47.1657)
"""Where vehicles the simulation creates start (the sample day's depot in Schaan)."""


class SimulationError(Exception):
    """Something the server answered that the simulation cannot go on from."""


class NothingToDrive(SimulationError):
    """The day has no order left to plan and no unfinished route: it was already driven."""


def _check(response: httpx.Response, what: str) -> Any:
    if response.status_code >= 400:
        raise SimulationError(f"{what}: HTTP {response.status_code}: {response.text[:500]}")
    return response.json()


@dataclass
class Driver:
    """A simulated driver: its login, its driver record and its vehicle."""

    email: str
    client: httpx.Client
    user_id: str
    driver_id: str = ""
    vehicle_id: str = ""
    profile: Profile = Profile.VAN


LIMITS = httpx.Limits(keepalive_expiry=4.0)
"""A phone's connection is dropped after 4 idle seconds, before the server's 5 s keep-alive
closes it: a request sent just as the server closes an idle connection fails with a reset
(seen with GPS batches 10 s apart, ``benchmarks/tenants_bench.py``)."""


def _login(
    server: str, email: str, password: str, timeout: float, organisation: str | None = None
) -> httpx.Client:
    client = httpx.Client(base_url=server, timeout=timeout, limits=LIMITS)
    credentials = {"email": email, "password": password}
    if organisation is not None:
        credentials["organisation"] = organisation
    try:
        body = _check(client.post("/api/v1/auth/token", json=credentials), f"log in as {email}")
    except BaseException:
        client.close()
        raise
    client.headers["Authorization"] = f"Bearer {body['access_token']}"
    return client


def _staff_client(
    server: str, email: str | None, password: str | None, api_key: str | None, timeout: float
) -> httpx.Client:
    if api_key:
        return httpx.Client(base_url=server, timeout=timeout, headers={"X-API-Key": api_key})
    if not email or not password:
        raise SimulationError("give --email and --password of a dispatcher, or --api-key")
    return _login(server, email, password, timeout)


def _all(client: httpx.Client, path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = _check(client.get(path, params={"limit": 500}), path)["items"]
    return items


def simulated_logins(
    staff: httpx.Client, count: int, password: str, have: int
) -> list[tuple[str, str]]:
    """Driver logins ``sim-driver-<n>.<org>@simulated.invalid`` for drivers ``have+1 …
    count``, created when missing: an admin's invitation (``POST /api/v1/members``), accepted
    with the password (``POST /api/v1/invitations/accept``)."""
    me = _check(staff.get("/api/v1/auth/me"), "who am I")
    if me["role"] != "admin":
        raise SimulationError(
            f"creating driver logins (--driver-password) needs an admin's login or API key, "
            f"not a {me['role']}'s; or give --driver EMAIL:PASSWORD for every driver"
        )
    org = str(me["organisation_id"]).lower()
    logins = []
    for n in range(have + 1, count + 1):
        email = f"sim-driver-{n}.{org}@simulated.invalid"
        invitation = _check(
            staff.post("/api/v1/members", json={"email": email, "role": "driver"}),
            f"invite {email}",
        )
        token = str(invitation["accept_url"]).rsplit("/", 1)[1]
        _check(
            staff.post(
                "/api/v1/invitations/accept",
                json={"token": token, "password": password, "name": f"Simulated driver {n}"},
            ),
            f"create the login {email}",
        )
        logins.append((email, password))
    return logins


def ensure_fleet(staff: httpx.Client, drivers: list[Driver], *, capacity: float) -> list[str]:
    """A driver record per login and a vehicle per driver; returns the vehicle ids used.

    A driver keeps the vehicle of its record when that one is active; the others get the
    remaining active vehicles, and vehicles ``SIM-VAN-n`` are created when there are too few
    (they carry ``capacity`` parcels: a fair share of the day, so that every driver gets a
    route)."""
    every = _all(staff, "/api/v1/vehicles")
    vehicles = [v for v in every if v.get("active", True)]
    by_id = {v["id"]: v for v in vehicles}
    records = _all(staff, "/api/v1/drivers")
    record_of = {d.get("user_id"): d for d in records if d.get("user_id")}
    taken: set[str] = set()
    for member in drivers:
        mine = record_of.get(member.user_id)
        if mine and mine.get("vehicle_id") in by_id and mine["vehicle_id"] not in taken:
            member.vehicle_id = mine["vehicle_id"]
            taken.add(member.vehicle_id)
    free = [v for v in vehicles if v["id"] not in taken]
    names = {v["external_id"] for v in every}
    numbers = (n for n in itertools.count(1) if f"SIM-VAN-{n}" not in names)
    for member in drivers:
        if member.vehicle_id:
            continue
        if free:
            vehicle = free.pop(0)
        else:
            n = next(numbers)
            body = {
                "external_id": f"SIM-VAN-{n}",
                "name": f"Simulated van {n}",
                "start": {"lon": DEPOT[0], "lat": DEPOT[1]},
                "shift": {"start": "07:00", "end": "19:00"},
                "capacity": {"parcels": capacity},
            }
            vehicle = _check(staff.post("/api/v1/vehicles", json=body), "create a vehicle")
            by_id[vehicle["id"]] = vehicle
        member.vehicle_id = vehicle["id"]
        taken.add(member.vehicle_id)
    for member in drivers:
        member.profile = Profile(by_id[member.vehicle_id].get("profile") or "van")
        mine = record_of.get(member.user_id)
        if mine is None:
            mine = _check(
                staff.post(
                    "/api/v1/drivers",
                    json={
                        "name": member.email,
                        "user_id": member.user_id,
                        "vehicle_id": member.vehicle_id,
                    },
                ),
                f"create the driver record of {member.email}",
            )
        member.driver_id = mine["id"]
    return [m.vehicle_id for m in drivers]


def wait_plan(staff: httpx.Client, plan_id: str, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        plan: dict[str, Any] = _check(staff.get(f"/api/v1/plans/{plan_id}"), "read the plan")
        if plan["status"] == "done":
            return plan
        if plan["status"] == "failed":
            raise SimulationError(f"planning failed: {plan.get('error')}")
        time.sleep(0.2)
    raise SimulationError(f"the plan was not done after {timeout_s:.0f} s")


def _ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def _ready_orders(staff: httpx.Client, day: date) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while True:
        page = _check(
            staff.get(
                "/api/v1/orders",
                params={
                    "date": day.isoformat(),
                    "status": "ready",
                    "limit": 500,
                    "offset": len(found),
                },
            ),
            "list the day's orders",
        )
        found.extend(page["items"])
        if not page["items"] or len(found) >= page["total"]:
            return found


def _routes_of(
    team: list[Driver], day: date, statuses: tuple[str, ...] = ("dispatched", "started")
) -> list[tuple[Driver, dict[str, Any]]]:
    """Each driver's route of the day as the app shows it (the one in progress, else the next
    dispatched one, else the last finished one), when its status is one of ``statuses``."""
    routes = []
    for member in team:
        body = _check(
            member.client.get("/api/v1/driver/route", params={"date": day.isoformat()}),
            f"read the route of {member.email}",
        )
        route = body["route"]
        if route is not None and route["status"] in statuses:
            routes.append((member, route))
    return routes
