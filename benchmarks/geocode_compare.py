"""Offline address index vs. a real Nominatim, on the same inputs and the same scoring.

What it compares, and why:

* **Geocoders.** lastmile's built-in index (``lastmile.core.geo``), and a Nominatim 5.3
  server over the *same* extract (``liechtenstein.osm.pbf``), queried through
  ``lastmile.integrations.geocode.NominatimGeocoder`` in two ways: the address as lastmile's
  parser cleans it (floors, notes, ``c/o`` removed; the adapter's default) and the text as
  typed. A third Nominatim row is the common naive use: *take the first result* of the
  typed text, with no check; it shows what the verdict mapping protects against.
* **Accuracy** as in ``geocode_bench.py``: share of existing addresses resolved
  (exact/corrected) within 30 m of the truth, and *confident wrong* answers (resolved but
  further than 30 m, or for an address that does not exist). Sets: the 100 noisy addresses
  of ``tests/data/sample_noisy_addresses.csv`` and mistakes generated from the map (same
  generator and seed as ``geocode_bench.py``).
* **Time per address**: wall time of whole ``geocode`` calls, one thread. For Nominatim,
  on loopback with no rate limit and an empty cache (every call is an HTTP request); the
  public server allows one request per second, i.e. 1 s per new address.

The Nominatim server is started with ``scripts/nominatim-test-server.sh`` (cached import
under ``~/.cache/lastmile-nominatim``) unless ``--url`` names a running one.

Run ``.venv/bin/python benchmarks/geocode_compare.py`` (``--write`` updates the
``## Geocoder vs Nominatim`` section of ``docs/benchmarks.md``).
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from geocode_bench import (  # noqa: E402
    EXTRACT,
    TOLERANCE_M,
    Case,
    generated_cases,
    machine,
    noisy_cases,
)
from lastmile.core.geo.distance import haversine_m  # noqa: E402
from lastmile.core.geo.geocoder import Geocoder  # noqa: E402
from lastmile.core.geo.index import load_index  # noqa: E402
from lastmile.core.model import Location  # noqa: E402
from lastmile.integrations.geocode import NominatimGeocoder  # noqa: E402

DOC = ROOT / "docs" / "benchmarks.md"
SECTION = "## Geocoder vs Nominatim"
SCRIPT = ROOT / "scripts" / "nominatim-test-server.sh"

Answer = tuple[bool, Location | None, str]
"""(resolved, location, what it said) for one input."""


@dataclass
class Score:
    existing: int = 0
    right: int = 0
    wrong: int = 0
    unresolved_existing: int = 0
    seconds: float = 0.0
    calls: int = 0
    verdicts: Counter[str] | None = None
    examples: list[str] | None = None


def score(run: Callable[[str], Answer], cases: list[Case]) -> Score:
    result = Score(verdicts=Counter(), examples=[])
    assert result.verdicts is not None and result.examples is not None
    for text, truth in cases:
        started = time.perf_counter()
        resolved, location, said = run(text)
        result.seconds += time.perf_counter() - started
        result.calls += 1
        result.verdicts[said] += 1
        result.existing += truth is not None
        if not resolved or location is None:
            result.unresolved_existing += truth is not None
            continue
        if truth is not None and min(haversine_m(location, t) for t in truth) <= TOLERANCE_M:
            result.right += 1
        else:
            result.wrong += 1
            if len(result.examples) < 4:
                result.examples.append(text)
    return result


@contextlib.contextmanager
def nominatim_server(url: str | None) -> Iterator[str]:
    if url:
        yield url.rstrip("/")
        return
    subprocess.run(["bash", str(SCRIPT), "setup"], check=True)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        ["bash", str(SCRIPT), "serve", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{base}/status", timeout=2).status_code == 200:
                    break
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


def run(url: str | None, generated: int) -> str:
    lines = [SECTION, ""]
    lines.append(
        f"Command: `.venv/bin/python benchmarks/geocode_compare.py --write --generated {generated}`."
    )
    lines.append(f"Machine: {machine()}.")
    with tempfile.TemporaryDirectory() as tmp:
        pbf = Path(tmp) / EXTRACT.name
        shutil.copyfile(EXTRACT, pbf)
        index = load_index(pbf)
        offline = Geocoder(index)
        sets = {
            "noisy sample (100)": noisy_cases(),
            f"generated ({generated})": generated_cases(index, seed=8, n=generated),
        }
        with nominatim_server(url) as base:
            version = httpx.get(f"{base}/status", params={"format": "json"}, timeout=5).json()
            lines.append(
                f"Nominatim {version.get('software_version', '?')} on loopback over the same "
                f"extract ({EXTRACT.name}), no rate limit, empty cache (one HTTP request per "
                "address)."
            )
            lines.append("")
            lines.append(
                "| set | geocoder | resolved ≤ 30 m of existing | confident wrong | "
                "ms / address | verdicts |"
            )
            lines.append("|---|---|---:|---:|---:|---|")
            notes: list[str] = []
            for set_name, cases in sets.items():
                rows: list[tuple[str, Score]] = []

                def builtin(text: str) -> Answer:
                    r = offline.geocode(text)
                    return r.verdict.resolved, r.location, r.verdict.value

                rows.append(("built-in offline index", score(builtin, cases)))
                for label, clean in (
                    ("Nominatim, cleaned query (adapter default)", True),
                    ("Nominatim, text as typed", False),
                ):
                    with NominatimGeocoder(base, min_interval_s=0, clean_query=clean) as nm:

                        def nominatim(text: str, nm: NominatimGeocoder = nm) -> Answer:
                            r = nm.geocode(text)
                            return r.verdict.resolved, r.location, r.verdict.value

                        rows.append((label, score(nominatim, cases)))
                with httpx.Client(base_url=base, timeout=10) as client:

                    def first_hit(text: str, client: httpx.Client = client) -> Answer:
                        hits = client.get(
                            "/search", params={"q": text, "format": "jsonv2", "limit": "1"}
                        ).json()
                        if not hits:
                            return False, None, "no result"
                        return True, Location(float(hits[0]["lon"]), float(hits[0]["lat"])), "hit"

                    rows.append(
                        ("Nominatim, first result taken as is (naive)", score(first_hit, cases))
                    )
                for label, s in rows:
                    assert s.verdicts is not None
                    verdicts = ", ".join(f"{k} {v}" for k, v in sorted(s.verdicts.items()))
                    share = s.right / max(1, s.existing)
                    lines.append(
                        f"| {set_name} | {label} | {s.right} of {s.existing} ({share:.0%}) | "
                        f"{s.wrong} | {1000 * s.seconds / max(1, s.calls):.2f} | {verdicts} |"
                    )
                    if s.examples and "naive" not in label:
                        notes.append(f"{label}, {set_name}: " + "; ".join(s.examples))
    lines.append("")
    lines.append(
        "Confident wrong = exact/corrected (or, for the naive row, any first result) more "
        "than 30 m from the truth, or for an address that does not exist. Same scoring and "
        "generator (seed 8) as `## Geocoder`."
    )
    if notes:
        lines.append("")
        lines.append("Confident wrong answers: " + " | ".join(notes))
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
    DOC.write_text(updated)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--url", help="a running Nominatim (default: start the test server)")
    parser.add_argument("--generated", type=int, default=1000)
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args(argv)
    text = run(args.url, args.generated)
    print(text)
    if args.write:
        write_section(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
