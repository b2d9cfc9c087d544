"""The day's scenario: what happens, drawn from ``--seed``, before any request is sent.

Pure (no HTTP, no clock): the speed option, the generated orders at the sample day's
addresses, the traffic jams, the late driver and the same-day orders with their moments.
Kept apart so that the same seed gives the same day and each piece can be tested alone.
"""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from lastmile.common.samples import sample_path

JAM_FACTOR = (1.5, 2.0)
"""During a traffic jam the vehicles move this many times slower."""
JAM_MINUTES = (30.0, 90.0)
LATE_MINUTES = (15.0, 45.0)
"""How late the late driver starts (simulated minutes)."""
SAME_DAY_SHARE = 0.05
"""Default same-day orders: 5 % of ``--orders`` (at least one from 10 orders on)."""


def parse_speed(text: str) -> float:
    """``60x``, ``60`` or ``0.5x`` -> 60.0; must be positive."""
    value = float(text.strip().lower().removesuffix("x"))
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"speed must be positive, got {text!r}")
    return value


def default_same_day(orders: int) -> int:
    """About :data:`SAME_DAY_SHARE` of the day's orders, at least one from 10 orders on."""
    return 0 if orders < 10 else max(1, round(orders * SAME_DAY_SHARE))


@dataclass(frozen=True)
class SampleAddress:
    """A row of the sample day's orders: where, how long it takes, how much."""

    address: str
    lon: float
    lat: float
    service_s: int
    parcels: float


def sample_addresses() -> list[SampleAddress]:
    """The sample day's addresses (``sample_day_orders.csv``), where generated orders go."""
    with sample_path("sample_day_orders.csv").open(newline="", encoding="utf-8") as handle:
        return [
            SampleAddress(
                address=row["address"],
                lon=float(row["lon"]),
                lat=float(row["lat"]),
                service_s=int(float(row.get("service_min") or 2) * 60),
                parcels=float(row.get("parcels") or 1),
            )
            for row in csv.DictReader(handle)
        ]


def make_orders(
    day: date, count: int, rng: random.Random, *, label: str = ""
) -> list[dict[str, Any]]:
    """``count`` orders at sample addresses (chosen and jittered ~30 m with the seed); the
    external ids ``SIM-<date>-<label><n>`` make a second run of the same day reuse them."""
    addresses = sample_addresses()
    picked = (
        rng.sample(addresses, count) if count <= len(addresses) else rng.choices(addresses, k=count)
    )
    who = "Same-day customer" if label else "Simulated customer"
    return [
        {
            "external_id": f"SIM-{day.isoformat()}-{label}{i + 1:04d}",
            "date": day.isoformat(),
            "address": a.address,
            "lon": round(a.lon + rng.uniform(-0.0003, 0.0003), 6),
            "lat": round(a.lat + rng.uniform(-0.0003, 0.0003), 6),
            "service_s": a.service_s,
            "demand": {"parcels": a.parcels},
            "customer": f"{who} {i + 1}",
        }
        for i, a in enumerate(picked)
    ]


@dataclass(frozen=True)
class Jam:
    """A traffic jam: from ``start_s`` to ``end_s`` (simulated seconds since the first
    departure) every vehicle moves ``factor`` times slower."""

    start_s: float
    end_s: float
    factor: float


def make_jams(span_s: float, rng: random.Random) -> tuple[Jam, ...]:
    """One or two jams starting in the first 70 % of the day."""
    jams = []
    for _ in range(rng.choice((1, 2))):
        start = rng.uniform(0.0, max(1.0, 0.7 * span_s))
        length = rng.uniform(*JAM_MINUTES) * 60
        jams.append(Jam(round(start), round(start + length), round(rng.uniform(*JAM_FACTOR), 2)))
    return tuple(sorted(jams, key=lambda j: j.start_s))


def slowdown(jams: Sequence[Jam], t: float) -> float:
    return max((j.factor for j in jams if j.start_s <= t < j.end_s), default=1.0)


def jams_text(jams: Sequence[Jam]) -> str:
    """``+1:20 to +2:05 x1.7`` per jam (simulated time since the first departure)."""
    return ", ".join(f"{_clock(j.start_s)} to {_clock(j.end_s)} x{j.factor:g}" for j in jams)


def _clock(s: float) -> str:
    return f"+{int(s // 3600)}:{int(s % 3600 // 60):02d}"


def late_driver(routes: int, seed: int) -> tuple[int | None, float]:
    """Which of the day's ``routes`` starts late (none with fewer than two) and by how many
    simulated seconds (:data:`LATE_MINUTES`)."""
    if routes < 2:
        return None, 0.0
    rng = random.Random(f"{seed}:late")
    return rng.randrange(routes), round(rng.uniform(*LATE_MINUTES) * 60)


def same_day_orders(
    day: date, count: int, seed: int, typical_s: float
) -> list[tuple[float, dict[str, Any]]]:
    """``count`` orders arriving during the day, each with its moment (simulated seconds since
    the first departure): between 10 % and 50 % of a typical route's ``typical_s``."""
    rng = random.Random(f"{seed}:same-day")
    bodies = make_orders(day, count, rng, label="S")
    for body in bodies:  # a same-day order is one parcel: it fits the vans' spare room
        body["demand"] = {"parcels": 1.0}
    moments = sorted(rng.uniform(0.1, 0.5) * typical_s for _ in bodies)
    return list(zip(moments, bodies, strict=True))
