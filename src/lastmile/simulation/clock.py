"""Where and when a simulated day runs: the simulation organisation and its clock.

A simulated day never runs in a real organisation: its events would be stamped with the real
clock, so a day at 600x would show 13-second deliveries and 3,800 stops an hour, and it
would mix invented orders into the real day. Given a real organisation's login,
:func:`enter_simulation` asks the server for that organisation's simulation organisation
(``POST /api/v1/organisation/simulation``, created on first use) and acts there with the key
it hands out; given a simulation organisation's login, it stays where it is.

The simulation organisation runs on its own clock (``PUT /api/v1/organisation/clock``):
:class:`BusinessClock` starts it at the simulated moment and speed, stamps every device event
with the simulated time at which it happens, and puts the server's clock back in step when
the simulation falls behind (a loaded machine), so that the server's 'now' (same-day orders,
inserts, ETAs) and the phones' timestamps tell the same day.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from lastmile.core.times import DayClock
from lastmile.simulation.client import SimulationError, _check

PREPARE_AT_S = 6 * 3600
"""The simulated day's orders are created at 06:00 of the day, before the first van leaves."""
IN_STEP_S = 15 * 60.0
"""How far (business seconds) the server's clock may run ahead of a simulation that cannot
keep up before it is put back in step (a same-day order always puts it in step first)."""
COPIED = (
    "external_id", "date", "address", "lon", "lat", "windows", "service_s", "demand",
    "required", "value", "skills", "kind", "deliver_to", "notes", "description", "pod_policy",
)  # fmt: skip
"""What a real order's copy in the simulation organisation keeps (no customer contacts)."""


@dataclass
class Place:
    """The organisation a simulated day runs in."""

    id: str
    name: str
    timezone: str
    staff: httpx.Client
    real_name: str | None
    """The real organisation it simulates (``None``: the login was the simulation's own)."""
    created: bool = False


def enter_simulation(staff: httpx.Client, server: str, timeout: float, drivers: list[str]) -> Place:
    """The simulation organisation of ``staff``'s organisation, with a client for it (the
    caller's role);
    the ``drivers`` (e-mails of the real organisation's drivers) become its drivers."""
    me = _check(staff.get("/api/v1/organisation"), "read the organisation")
    if me.get("simulation"):
        return Place(me["id"], me["name"], me["timezone"], staff, None)
    response = staff.post("/api/v1/organisation/simulation", json={"drivers": drivers})
    if response.status_code == 403:
        raise SimulationError(
            f"a simulated day runs in the simulation organisation of {me['name']}, which only "
            "its staff can open: log in as an admin or dispatcher"
        )
    twin = _check(response, "open the simulation organisation")
    client = httpx.Client(
        base_url=server, timeout=timeout, headers={"X-API-Key": str(twin["api_key"])}
    )
    return Place(twin["id"], twin["name"], me["timezone"], client, me["name"], twin["created"])


VEHICLE_FIELDS = (
    "external_id", "name", "profile", "start", "end", "open_end", "shift", "capacity", "skills",
    "cost_per_km", "cost_per_hour", "fixed_cost", "speed_factor", "max_duration_s", "break",
    "max_overtime_s", "overtime_cost_per_hour",
)  # fmt: skip
"""What a real vehicle's copy keeps (not its depot, which is the real organisation's)."""


def copy_fleet(real: httpx.Client, place: Place) -> int:
    """Copy the real organisation's active vehicles that the simulation organisation does not
    have yet (same external id), so the simulated day has the real fleet. Returns how many."""
    have = {
        v["external_id"]
        for v in _check(place.staff.get("/api/v1/vehicles", params={"limit": 500}), "vehicles")[
            "items"
        ]
    }
    copied = 0
    for vehicle in _check(real.get("/api/v1/vehicles", params={"limit": 500}), "vehicles")["items"]:
        if not vehicle.get("active", True) or vehicle["external_id"] in have:
            continue
        body = {k: vehicle[k] for k in VEHICLE_FIELDS if vehicle.get(k) is not None}
        _check(place.staff.post("/api/v1/vehicles", json=body), "copy a vehicle")
        copied += 1
    return copied


def copy_orders(real: httpx.Client, place: Place, day: date) -> int:
    """Copy the real organisation's ready orders of ``day`` into the simulation organisation
    (``--existing``); an order copied before is confirmed, not doubled. Returns how many."""
    found: list[dict[str, Any]] = []
    while True:
        page = _check(
            real.get(
                "/api/v1/orders",
                params={"date": day.isoformat(), "status": "ready", "limit": 500,
                        "offset": len(found)},
            ),
            "list the real day's orders",
        )  # fmt: skip
        found.extend(page["items"])
        if not page["items"] or len(found) >= page["total"]:
            break
    bodies = [{k: o[k] for k in COPIED if o.get(k) is not None} for o in found]
    for i in range(0, len(bodies), 1000):
        _check(place.staff.post("/api/v1/orders", json=bodies[i : i + 1000]), "copy orders")
    return len(bodies)


class BusinessClock:
    """The simulation organisation's clock, as the simulation drives it.

    ``start(at_s, speed)`` sets the server's clock to ``at_s`` seconds after local midnight
    of the day, running at ``speed``; :meth:`iso` is the business time of a simulated moment
    ``t`` (seconds since :attr:`origin_s`), and :meth:`keep` puts the server back in step
    when the simulation is behind."""

    def __init__(self, place: Place, day: date) -> None:
        self.place = place
        self.day = DayClock(day, ZoneInfo(place.timezone))
        self.origin_s = 0.0
        self.speed = 1.0
        self._set_s = 0.0
        self._set_mono = time.monotonic()

    def start(self, at_s: float, speed: float) -> None:
        self.origin_s, self.speed = at_s, speed
        self._put(0.0)

    def iso(self, t: float) -> str:
        """The business date-time of simulated moment ``t`` (with the zone's offset)."""
        return self.day.iso(self.origin_s + t)

    def at(self, t: float) -> datetime:
        return self.day.at(self.origin_s + t)

    def due(self, t: float) -> float:
        """The ``time.monotonic()`` at which simulated moment ``t`` is due: the simulation
        paces itself on the server's clock, so that after the clock was put back in step the
        events that follow are not ahead of it."""
        return self._set_mono + (t - self._set_s) / self.speed

    def keep(self, t: float, *, force: bool = False) -> None:
        """Put the server's clock at ``t`` if it ran more than :data:`IN_STEP_S` ahead (the
        simulation could not keep up), or always with ``force``."""
        server_t = self._set_s + (time.monotonic() - self._set_mono) * self.speed
        if force or server_t - t > IN_STEP_S:
            self._put(t)

    def stop(self, t: float) -> None:
        """The simulated day is over: the clock stays at its evening, at real speed."""
        self.speed = 1.0
        self._put(t)

    def _put(self, t: float) -> None:
        start = self.at(t)
        _check(
            self.place.staff.put(
                "/api/v1/organisation/clock",
                json={"start": start.isoformat(), "speed": self.speed},
            ),
            "set the simulation's clock",
        )
        self._set_s, self._set_mono = t, time.monotonic()
