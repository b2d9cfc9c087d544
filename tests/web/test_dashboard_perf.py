"""Every page of the app in a real browser, on a small day seeded the way ``make bench-pages``
seeds its 500 orders (benchmarks/pages_bench.py, the one place that lists the pages and says
what "loaded" means): each page loads without a console error, a failed request or an HTTP
error (a favicon included), shows times in 24-hour form, and names nothing by its internal
name. The page times themselves are the benchmark's job (docs/benchmarks.md, Dashboard);
here they are only printed.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from helpers.browser import CHROMIUM

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
import pages_bench

pytestmark = pytest.mark.browser

INTERNAL = [
    re.compile(p)
    for p in (
        r"roads:",  # a travel-time source's key
        r"External id",
        r"\b[a-z]+_[a-z_]+\b",  # an enum or field name: out_for_delivery, not_home, eta_changed
        r"\b(?:orders|routes|notifications|customers|shops|drivers|fleet)\.[a-z_]+",  # a slice
        r"shopify:",  # a customer's reference in the shop
        r"\b(?:None|null|undefined|NaN)\b",
    )
]
TWELVE_HOUR = re.compile(r"\b\d{1,2}:\d{2}\s?(?:AM|PM|am|pm)\b")
ALLOWED = {
    # the Shopify scopes the owner grants (Shopify's words)
    "read_orders",
    "read_merchant_managed_fulfillment_orders",
    "write_merchant_managed_fulfillment_orders",
    "write_fulfillments",
}


def internal_names(text: str) -> list[str]:
    found = []
    for pattern in INTERNAL:
        for match in pattern.finditer(text):
            word = match.group(0)
            around = text[max(0, match.start() - 40) : match.end() + 40]
            placeholder = text[max(0, match.start() - 3) : match.start()] == "{{ "
            if word in ALLOWED or "@" in around or placeholder:  # an e-mail, a {{ template }}
                continue
            found.append(word)
    return found


@pytest.fixture(scope="module")
def visited() -> list[pages_bench.Result]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"chromium not found at {CHROMIUM}")
    _, results, _ = pages_bench.run(orders=16, routes=2, loads=1, progress=print)
    return results


def test_every_page_loads_without_errors(visited: list[pages_bench.Result]) -> None:
    names = [r.name for r in visited]
    assert len(names) == len(set(names)) and len(names) >= 20, names
    for name in ("messages", "shop", "customers", "customer", "driver app (route)"):
        assert name in names
    problems = {r.name: r.errors for r in visited if r.errors}
    assert problems == {}, problems
    print("\n" + pages_bench.table(visited, 1))


def test_pages_speak_the_owners_words(visited: list[pages_bench.Result]) -> None:
    words = {r.name: internal_names(r.text) for r in visited}
    assert {k: v for k, v in words.items() if v} == {}
    twelve = {r.name: TWELVE_HOUR.findall(r.text) for r in visited}
    assert {k: v for k, v in twelve.items() if v} == {}
    assert all(r.text.strip() for r in visited)
