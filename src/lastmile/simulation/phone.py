"""One driver's phone: the driver app as a state machine in simulated time.

:meth:`Phone.run` is a generator that yields each moment at which the phone next acts; the
loop in :mod:`lastmile.simulation.day` resumes it then. The phone starts its route, drives
each leg with GPS points, serves the stop (sometimes nobody is home) and re-reads its route
before each next stop, so that stops inserted during the day are driven too.
"""

from __future__ import annotations

import random
from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lastmile.core.model import Location
from lastmile.simulation.client import Driver, _check
from lastmile.simulation.scenario import slowdown

if TYPE_CHECKING:  # the loop holds the phones and the phones call the loop's requests
    from lastmile.simulation.day import Simulation

FAIL_PROBABILITY = 0.1
"""Share of stops where nobody is home (``failed``, ``not_home``)."""
POD_SHARE = 0.95
"""Share of deliveries for which the driver takes the proof the organisation asks for."""
GPS_EVERY_S = 20.0
"""Simulated seconds between two GPS points."""
DRIVE_FACTOR = (0.85, 1.25)
"""Each leg takes its road travel time times a factor drawn from this range."""
SERVICE_FACTOR = (0.6, 1.6)
"""Each stop takes its planned service time times a factor drawn from this range."""


@dataclass(frozen=True)
class Target:
    """Where the phone heads next: a stop of its route, or the route's end."""

    id: str
    location: Location | None
    stop: dict[str, Any] | None


class Phone:
    """One driver's phone running the driver app: a generator of the simulated moments at
    which it acts (:meth:`run`), talking to the server through :class:`Simulation`."""

    def __init__(
        self,
        sim: Simulation,
        member: Driver,
        route: dict[str, Any],
        *,
        offset_s: float,
        late_s: float,
        rng: random.Random,
    ) -> None:
        self.sim = sim
        self.member = member
        self.route = route
        self.route_id: str = route["id"]
        self.offset_s = offset_s
        self.late_s = late_s
        self.rng = rng
        self.t = 0.0
        start = route["start"]
        self.here = Location(float(start["lon"]), float(start["lat"]))
        self.changed = False
        """Set when the server told the app that its route changed (a stop was inserted)."""
        self.fresh = False
        self.done: set[str] = set()
        """Stops served and breaks taken (a break stays ``pending`` on the server; a stop whose
        outcome the server rejected is not tried again)."""
        self.gps: list[dict[str, Any]] = []
        self.last_flush = 0.0
        self.finished = False

    # -- what the app shows

    def reload(self) -> None:
        """``GET /driver/route``: the route as it is now on the server."""
        body = _check(
            self.member.client.get("/api/v1/driver/route", params={"date": self.route["date"]}),
            f"read the route of {self.member.email}",
        )
        self.sim.counts.route_reads += 1
        self.changed = False
        if body["route"] is not None and body["route"]["id"] == self.route_id:
            self.route = body["route"]

    def next_target(self) -> Target | None:
        """The first stop still to do in the route's current order, else the route's end
        (``None`` for an open route that has arrived)."""
        for stop in sorted(self.route["stops"], key=lambda s: s["sequence"]):
            if stop["status"] not in ("pending", "arrived") or stop["id"] in self.done:
                continue
            where = (
                Location(float(stop["lon"]), float(stop["lat"]))
                if stop.get("lon") is not None and stop.get("lat") is not None
                else None
            )
            return Target(stop["id"], where, stop)
        end = self.route["end"]
        if end.get("lon") is None or end.get("lat") is None:
            return None
        return Target("end", Location(float(end["lon"]), float(end["lat"])), None)

    # -- the day

    def run(self) -> Generator[float, None, None]:
        self.t = self.offset_s + self.late_s
        yield self.t
        self.sim.event(
            self, "route_started", route_id=self.route_id, lon=self.here.lon, lat=self.here.lat
        )
        while True:
            if not self.fresh:
                self.reload()
            self.fresh = False
            target = self.next_target()
            if target is None or (target.stop is None and target.location == self.here):
                break
            if target.stop is not None and target.stop["kind"] == "break":
                self.t += float(target.stop["service_s"])
                yield self.t
                self.done.add(target.id)
                continue
            if target.location is not None and target.location != self.here:
                diverted = yield from self.drive(target)
                if diverted:
                    continue
            if target.stop is not None:
                self.done.add(target.id)
                yield from self.serve(target.stop)
        self.sim.event(
            self, "route_finished", route_id=self.route_id, lon=self.here.lon, lat=self.here.lat
        )
        self.finished = True

    def drive(self, target: Target) -> Generator[float, None, bool]:
        """Drive to ``target``, a GPS point every :data:`GPS_EVERY_S` simulated seconds along
        the leg; returns ``True`` when a route change sent the phone elsewhere on the way."""
        assert target.location is not None
        leg = self.sim.roads.leg(self.here, target.location, self.member.profile)
        duration = max(1.0, leg.duration_s * self.rng.uniform(*DRIVE_FACTOR))
        speed = leg.distance_m / duration  # m per simulated second, outside jams
        done = 0.0
        while done < leg.distance_m:
            pace = speed / slowdown(self.sim.jams, self.t)
            if done + pace * GPS_EVERY_S >= leg.distance_m:
                self.t += (leg.distance_m - done) / pace
                done = leg.distance_m
            else:
                self.t += GPS_EVERY_S
                done += pace * GPS_EVERY_S
            yield self.t
            point, heading = leg.at(done)
            self.here = point if done < leg.distance_m else target.location
            self.sim.position(self, self.here, speed_ms=pace, heading=heading)
            if self.changed and done < leg.distance_m:
                self.changed = False
                self.reload()
                self.fresh = True
                new = self.next_target()
                if new is None or new.id != target.id:
                    return True
        self.here = target.location
        return False

    def serve(self, stop: dict[str, Any]) -> Generator[float, None, None]:
        where = self.here
        self.sim.event(self, "arrived", stop_id=stop["id"], lon=where.lon, lat=where.lat)
        self.t += max(10.0, float(stop["service_s"]) * self.rng.uniform(*SERVICE_FACTOR))
        yield self.t
        if self.rng.random() < FAIL_PROBABILITY:
            self.sim.event(
                self, "failed", stop_id=stop["id"], reason="not_home", lon=where.lon, lat=where.lat
            )
            return
        recipient = stop.get("customer") or "customer"
        key = self.sim.event(
            self,
            "delivered",
            stop_id=stop["id"],
            lon=where.lon,
            lat=where.lat,
            recipient=recipient,
        )
        if key is not None and self.rng.random() < POD_SHARE:
            for kind in stop.get("pod_required") or ():
                self.sim.pod(self, key, kind, recipient)
