"""The day as a discrete-event simulation: the clock that plays the phones.

Each driver's phone is a generator that says when it next wants to act, a heap orders those
moments, and the loop sleeps until each is due (``speed`` times faster than real time). The
dispatcher's same-day orders are one more actor. The requests every phone makes (GPS
batches, events, proofs) go through :class:`Simulation`, which counts what came back.

**Timestamps are simulated.** The day runs in a simulation organisation whose clock the
simulation sets (:class:`lastmile.simulation.clock.BusinessClock`): every event and GPS point
carries the simulated moment at which it happens, and the server reads the same clock, so a
day at ``600x`` lasts a few real minutes and still has the KPIs of a real day.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from rich.markup import escape
from rich.progress import Progress

from lastmile.core.model import Location
from lastmile.simulation import console
from lastmile.simulation.client import _check
from lastmile.simulation.clock import BusinessClock
from lastmile.simulation.legs import Roads
from lastmile.simulation.phone import Phone
from lastmile.simulation.proofs import proof_png
from lastmile.simulation.scenario import Jam, _clock

GPS_NOISE_DEG = 0.00005
"""About 5 m of GPS noise."""
GPS_BATCH_S = 1.0
"""A phone sends its buffered GPS points at most once a real second (and before each event)."""
MAX_POSITIONS = 1000
"""Positions per ``POST /driver/positions`` (the API's limit)."""


@dataclass
class Counts:
    """What the simulation sent and what came back."""

    events: Counter[str] = field(default_factory=Counter)
    rejected: list[str] = field(default_factory=list)
    positions: int = 0
    positions_refused: int = 0
    position_batches: int = 0
    route_reads: int = 0
    pods: int = 0
    same_day_created: int = 0
    same_day_inserted: int = 0
    same_day_elsewhere: int = 0
    """Inserted into a route that no simulated driver drives (another plan's)."""
    same_day_not_fitting: Counter[str] = field(default_factory=Counter)
    same_day_skipped: int = 0
    """Not sent: every route had finished, or the order was no longer ready (an earlier run)."""


@dataclass
class _Actor:
    """One thing the clock plays: the moments it acts at; the day ends when no essential
    one (a phone) is left."""

    steps: Iterator[float]
    essential: bool


class Simulation:
    """The phones, the dispatcher's same-day orders and the clock that plays them."""

    def __init__(
        self,
        staff: httpx.Client,
        roads: Roads,
        jams: tuple[Jam, ...],
        clock: BusinessClock,
        speed: float,
        *,
        stop: threading.Event | None = None,
        progress: Progress | None = None,
        say: Callable[[str], None] = console.print,
        gps_batch_s: float = GPS_BATCH_S,
    ) -> None:
        self.staff = staff
        self.roads = roads
        self.jams = jams
        self.clock = clock
        self.speed = speed
        self.gps_batch_s = gps_batch_s
        """Real seconds between a phone's GPS batches (many simulated days on one machine
        send fewer, larger batches: ``benchmarks/tenants_bench.py``)."""
        self.stop = stop or threading.Event()
        self.progress = progress
        self.task = progress.add_task("stops", total=0) if progress is not None else None
        self.say = say
        self.counts = Counts()
        self.phones: list[Phone] = []
        self.started = time.monotonic()
        self.same_day_ids: list[str] = []

    # -- requests

    def flush(self, phone: Phone) -> None:
        while phone.gps:
            batch, phone.gps = phone.gps[:MAX_POSITIONS], phone.gps[MAX_POSITIONS:]
            response = phone.member.client.post(
                "/api/v1/driver/positions", json={"positions": batch}
            )
            self.counts.position_batches += 1
            if response.status_code == 409:  # no route in progress (a dispatcher's change)
                self.counts.positions_refused += len(batch)
                continue
            body = _check(response, f"send positions of {phone.member.email}")
            self.counts.positions += int(body["accepted"])
            self.counts.positions_refused += len(body["rejected"])
        phone.last_flush = time.monotonic()

    def position(self, phone: Phone, at: Location, *, speed_ms: float, heading: float) -> None:
        phone.gps.append(
            {
                "lon": round(at.lon + phone.rng.gauss(0, GPS_NOISE_DEG), 7),
                "lat": round(at.lat + phone.rng.gauss(0, GPS_NOISE_DEG), 7),
                "recorded_at": self.clock.iso(phone.t),
                "accuracy_m": 5.0,
                "speed_ms": round(min(speed_ms, 150.0), 2),
                "heading": round(heading, 1),
            }
        )
        if time.monotonic() - phone.last_flush >= self.gps_batch_s:
            self.flush(phone)

    def event(self, phone: Phone, type_: str, **body: Any) -> str | None:
        """Send one device event (after the GPS points before it); its key, or ``None`` when
        the server rejected it (counted and shown)."""
        self.flush(phone)
        key = f"sim-{uuid.uuid4()}"
        result = _check(
            phone.member.client.post(
                "/api/v1/driver/events",
                json={
                    "events": [
                        {"key": key, "type": type_, "occurred_at": self.clock.iso(phone.t), **body}
                    ]
                },
            ),
            f"send {type_} of {phone.member.email}",
        )["results"][0]
        if result["status"] == "rejected":
            message = f"{type_} of {phone.member.email} rejected: {result['error']}"
            self.counts.rejected.append(message)
            self.say(f"[yellow]{escape(message)}[/]")
            return None
        self.counts.events[type_] += 1
        if type_ in ("delivered", "failed") and self.progress is not None:
            assert self.task is not None
            self.progress.advance(self.task)
        return key

    def pod(self, phone: Phone, key: str, kind: str, recipient: str) -> None:
        """Upload a proof for a synced event, as the app does after the event."""
        response = phone.member.client.post(
            "/api/v1/driver/pod",
            data={"kind": kind, "event_key": key, "recipient": recipient},
            files={"file": (f"{kind}.png", proof_png(kind, phone.rng), "image/png")},
        )
        _check(response, f"upload the {kind} of {phone.member.email}")
        self.counts.pods += 1

    # -- the dispatcher's same-day orders

    def same_day(self, orders: list[tuple[float, dict[str, Any]]]) -> Iterator[float]:
        """Create each order at its moment and insert it into a running route (``409``: it
        does not fit, with the reason); the phone of that route is told its route changed."""
        by_driver = {p.member.driver_id: p for p in self.phones}
        for i, (t, body) in enumerate(orders):
            yield t
            if all(p.finished for p in self.phones):
                self.counts.same_day_skipped += len(orders) - i
                return
            self.clock.keep(t, force=True)  # the order arrives at t on the server's clock too
            response = self.staff.post("/api/v1/orders", json=[body])
            if response.status_code == 409:  # an earlier run's order that can no longer change
                self.counts.same_day_skipped += 1
                continue
            created = _check(response, "create an order")
            order = created["items"][0]["order"]
            if order["status"] != "ready":
                self.counts.same_day_skipped += 1
                continue
            self.counts.same_day_created += 1
            self.same_day_ids.append(order["id"])
            response = self.staff.post(f"/api/v1/orders/{order['id']}/insert")
            if response.status_code == 409:
                why = response.json()
                reason = str(why.get("reason") or why.get("code") or "conflict")
                self.counts.same_day_not_fitting[reason] += 1
                self.say(
                    f"same-day order {body['external_id']} at {_clock(t)} does not fit "
                    f"({escape(reason)}): {escape(str(why.get('detail', '')))}"
                )
                continue
            inserted = _check(response, f"insert {body['external_id']}")
            phone = by_driver.get(inserted.get("driver_id") or "")
            if phone is None or phone.finished:
                self.counts.same_day_elsewhere += 1
                continue
            self.counts.same_day_inserted += 1
            phone.changed = True
            if self.progress is not None and self.task is not None:
                total = self.progress.tasks[self.task].total or 0
                self.progress.update(self.task, total=total + 1)

    # -- the clock

    def play(self, actors: list[_Actor]) -> bool:
        """Run the actors in simulated time; ``False`` when stopped before the end."""
        heap: list[tuple[float, int, int]] = []
        seq = itertools.count()
        for index, actor in enumerate(actors):
            t = next(actor.steps, None)
            if t is not None:
                heap.append((t, next(seq), index))
        heapq.heapify(heap)
        self.started = time.monotonic()
        while heap and any(actors[i].essential for _, _, i in heap):
            t, _, index = heapq.heappop(heap)
            wait = self.clock.due(t) - time.monotonic()
            if wait > 0 and self.stop.wait(wait):
                return False
            if self.stop.is_set():
                return False
            self.clock.keep(t)
            later = next(actors[index].steps, None)
            if later is not None:
                heapq.heappush(heap, (later, next(seq), index))
        for phone in self.phones:
            self.flush(phone)
        return True
