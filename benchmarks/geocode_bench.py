"""Geocoder benchmark: address index build/load time, throughput and accuracy.

Why it measures what it measures:

* **Build vs. load.** Reading an extract with pyosmium happens once per extract; every later
  process loads the ``.addr.json.gz`` cache. Both are timed on a copy of the extract in a
  temporary directory, so the repository is never written.
* **Throughput** is whole :meth:`Geocoder.geocode` calls (parse, fuzzy street match, house
  number check, verdict) on the 100 noisy addresses of ``tests/data/sample_noisy_addresses.csv``,
  repeated, best of ``--repeat`` runs, one thread.
* **Accuracy** is the figure the product promises: the share of existing addresses resolved
  (exact or corrected) to within 30 m of the true location, and the number of *confident
  wrong* answers (exact/corrected but further than 30 m, or for an address that does not
  exist), which must be zero. A second set, generated from the map with a fixed seed
  (typos, missing postcode/town, reordered parts, numbers not on the street, a street moved
  to another town), checks the same rule on inputs the sample does not contain.

Run ``.venv/bin/python benchmarks/geocode_bench.py`` (add ``--write`` to update the
``## Geocoder`` section of ``docs/benchmarks.md``).
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import random
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from lastmile.core.geo.distance import haversine_m  # noqa: E402
from lastmile.core.geo.geocoder import Geocoder  # noqa: E402
from lastmile.core.geo.index import AddressIndex, build_index, load_index  # noqa: E402
from lastmile.core.geo.normalize import split_housenumbers, street_key  # noqa: E402
from lastmile.core.model import Location  # noqa: E402

DOC = ROOT / "docs" / "benchmarks.md"
SECTION = "## Geocoder"
EXTRACT = ROOT / "src" / "lastmile" / "data" / "osm" / "liechtenstein.osm.pbf"
HELSINKI = ROOT / "tests" / "data" / "osm" / "helsinki.osm.pbf"
NOISY = ROOT / "tests" / "data" / "sample_noisy_addresses.csv"
TOLERANCE_M = 30.0


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = (
        f"; load average {os.getloadavg()[0]:.1f} when the run started"
        if hasattr(os, "getloadavg")
        else ""
    )
    return f"{os.cpu_count()} CPUs (nproc), {cpu}, Python {platform.python_version()}{load}"


Case = tuple[str, list[Location] | None]
"""An input and the locations that count as right (every copy of the address), or
``None`` when the address does not exist."""


def accuracy(geocoder: Geocoder, cases: list[Case]) -> tuple[int, int, list[str], Counter[str]]:
    """(existing, resolved within tolerance, confident wrong answers, verdict counts)."""
    existing = sum(1 for _, truth in cases if truth is not None)
    right = 0
    wrong: list[str] = []
    verdicts: Counter[str] = Counter()
    for text, truth in cases:
        result = geocoder.geocode(text)
        verdicts[result.verdict.value] += 1
        if not result.verdict.resolved or result.location is None:
            continue
        if truth is not None and min(haversine_m(result.location, t) for t in truth) <= TOLERANCE_M:
            right += 1
        else:
            wrong.append(f"{text} -> {result.address}")
    return existing, right, wrong, verdicts


def noisy_cases() -> list[Case]:
    with NOISY.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return [
        (
            r["address"],
            [Location(float(r["true_lon"]), float(r["true_lat"]))] if r["exists"] == "1" else None,
        )
        for r in rows
    ]


def generated_cases(index: AddressIndex, seed: int, n: int) -> list[Case]:
    """Map addresses with one mistake each; truth ``None`` where the result does not exist.

    The truth of an existing address is every map object with that street, number and town
    (a shopping centre has dozens); copies more than the merge distance apart make it
    ambiguous, which counts as unresolved (not wrong).
    """
    rng = random.Random(seed)
    points = [
        p
        for p in index.addresses
        if p.postcode and p.city and re.fullmatch(r"\d+[a-zA-Z]?", p.housenumber)
    ]
    numbers: dict[tuple[str, str | None], set[str]] = {}
    for p in index.addresses:
        numbers.setdefault((street_key(p.street), p.city), set()).update(
            split_housenumbers(p.housenumber)
        )
    copies: dict[tuple[str, str, str | None], list[Location]] = {}
    for p in index.addresses:
        copies.setdefault((p.street, p.housenumber, p.city), []).append(p.location)
    towns = sorted({(p.postcode, p.city) for p in points if p.city and "(" not in p.city})
    out: list[Case] = []
    while len(out) < n:
        p = rng.choice(points)
        kind = rng.choice(["typo", "no_postcode", "no_town", "reorder", "bad_number", "town"])
        street, number = p.street, p.housenumber
        if kind == "typo":
            i = rng.randrange(1, len(street) - 1)
            street = street[:i] + street[i + 1 :]
        if kind == "bad_number":
            match = re.match(r"\d+", number)
            assert match is not None
            number = str(int(match.group()) + rng.choice([1, 2, 57]))
            if number in numbers[(street_key(p.street), p.city)]:
                continue
            out.append((f"{street} {number}, {p.postcode} {p.city}", None))
            continue
        if kind == "town":
            postcode, city = rng.choice(towns)
            if city == p.city or number in numbers.get((street_key(street), city), set()):
                continue
            out.append((f"{street} {number}, {postcode} {city}", None))
            continue
        text = {
            "typo": f"{street} {number}, {p.postcode} {p.city}",
            "no_postcode": f"{street} {number}, {p.city}",
            "no_town": f"{street} {number}, {p.postcode}",
            "reorder": f"{p.city}, {street} {number}",
        }[kind]
        out.append((text, copies[(p.street, p.housenumber, p.city)]))
    return out


def run(repeat: int, generated: int) -> str:
    lines = [SECTION, ""]
    lines.append(
        "Command: `.venv/bin/python benchmarks/geocode_bench.py --write "
        f"--repeat {repeat} --generated {generated}`."
    )
    lines.append(f"Machine: {machine()}.")
    lines.append("")
    with tempfile.TemporaryDirectory() as tmp:
        results: dict[str, Geocoder] = {}
        lines.append("| extract | addresses | streets | build (s) | cache load (s) |")
        lines.append("|---|---:|---:|---:|---:|")
        for name, source in (("Liechtenstein", EXTRACT), ("Helsinki", HELSINKI)):
            pbf = Path(tmp) / source.name
            shutil.copyfile(source, pbf)
            started = time.perf_counter()
            index = build_index(pbf)
            build_s = time.perf_counter() - started
            load_index(pbf)  # writes the cache
            started = time.perf_counter()
            index = load_index(pbf)
            load_s = time.perf_counter() - started
            results[name] = Geocoder(index)
            lines.append(
                f"| {name} | {len(index.addresses):,} | {len(index.streets):,} | "
                f"{build_s:.2f} | {load_s:.2f} |"
            )
        lines.append("")

        geocoder = results["Liechtenstein"]
        cases = noisy_cases()
        texts = [t for t, _ in cases]
        best = float("inf")
        for _ in range(repeat):
            started = time.perf_counter()
            for _ in range(10):
                for text in texts:
                    geocoder.geocode(text)
            best = min(best, time.perf_counter() - started)
        rate = 10 * len(texts) / best
        existing, right, wrong, verdicts = accuracy(geocoder, cases)
        lines.append(
            f"Throughput on the noisy sample (Liechtenstein, one thread): **{rate:,.0f} "
            f"addresses/s** ({1000 * best / (10 * len(texts)):.2f} ms each)."
        )
        lines.append("")
        lines.append("| set | existing | resolved ≤ 30 m | confident wrong | verdicts |")
        lines.append("|---|---:|---:|---:|---|")
        verdict_text = ", ".join(f"{k} {v}" for k, v in sorted(verdicts.items()))
        lines.append(
            f"| noisy sample (100) | {existing} | {right} ({right / existing:.0%}) | "
            f"{len(wrong)} | {verdict_text} |"
        )
        all_wrong = list(wrong)
        for name, geo in results.items():
            gen = generated_cases(geo.index, seed=8, n=generated)
            existing, right, wrong, verdicts = accuracy(geo, gen)
            all_wrong.extend(wrong)
            verdict_text = ", ".join(f"{k} {v}" for k, v in sorted(verdicts.items()))
            lines.append(
                f"| generated, {name} ({generated}) | {existing} | {right} "
                f"({right / max(1, existing):.0%}) | {len(wrong)} | {verdict_text} |"
            )
        lines.append("")
        lines.append(
            "Confident wrong = exact/corrected but more than 30 m from the truth, or for an "
            "address that does not exist. On generated sets any map object with the same "
            "street, number and town counts as the truth; large buildings whose copies of an "
            "address are more than 60 m apart come out ambiguous (unresolved, not wrong)."
        )
        if all_wrong:
            lines.append("")
            lines.append("Confident wrong answers: " + "; ".join(all_wrong[:10]))
        lines.append("")
        lines.append("Addresses © OpenStreetMap contributors (ODbL 1.0).")
    return "\n".join(lines) + "\n"


def write_section(text: str) -> None:
    """Replace (or append) our section of docs/benchmarks.md, leaving other sections alone."""
    existing = DOC.read_text() if DOC.exists() else "# Benchmarks\n\n"
    start = existing.find(SECTION + "\n")
    if start < 0:
        updated = existing.rstrip("\n") + "\n\n" + text
    else:
        end = existing.find("\n## ", start + len(SECTION))
        tail = existing[end + 1 :] if end >= 0 else ""
        updated = existing[:start] + text + ("\n" + tail if tail else "")
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(updated)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--generated", type=int, default=1000)
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args(argv)
    text = run(args.repeat, args.generated)
    print(text)
    if args.write:
        write_section(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
