"""Suite-wide test settings."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest
from argon2 import PasswordHasher
from hypothesis import settings as hypothesis_settings

import lastmile.auth.security as security
from lastmile.common import clock

# The suite's webhook and message receivers listen on loopback, which the outbound policy
# refuses by default; the tests of that policy set their own (empty) allowance.
os.environ.setdefault("LASTMILE_OUTBOUND_ALLOWED_NETWORKS", '["127.0.0.0/8"]')

# Real argon2, with the cheapest parameters: the suite creates hundreds of users, and the
# production cost (about 50 ms each here) would dominate its run time.
security._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)

# No per-example deadline: speed is measured by benchmarks, not by tests, and a busy 2-core CI
# machine makes a 200 ms deadline fail examples that are merely slow (seen on the KPI series
# property at load 17).
hypothesis_settings.register_profile("lastmile", deadline=None)
hypothesis_settings.load_profile("lastmile")


@pytest.fixture
def daytime() -> Iterator[datetime]:
    """The service's clock moved to 10:00 in Vaduz (today there), for tests whose days are
    built around "now" (shifts, windows, booking cut-offs): at 23:00 a day has no hours left,
    and the suite must pass whatever hour CI runs it at. Yields the shifted now."""
    zone = ZoneInfo("Europe/Vaduz")
    real = datetime.now(UTC)
    ten = datetime.combine(real.astimezone(zone).date(), time(10), zone)
    with clock.shifted(ten - real):
        yield clock.utcnow()
