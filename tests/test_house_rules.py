"""The house rules of docs/design.md as tests: small modules, no cycle between slices. (The
order of the slice map is kept by the import contracts in pyproject.toml, checked by
``lint-imports`` in ``make lint``.)"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).parents[1]
SRC = ROOT / "src" / "lastmile"
MAX_LINES = 600
TOO_LONG_TODAY = {
    "live/service.py": 646,
    "drivers/service.py": 1179,
    "orders/service.py": 1064,
    "core/geo/geocoder.py": 808,
    "core/roads/engine.py": 888,
    "fleet/service.py": 803,
    "notifications/service.py": 662,
    "integrations/geocode/nominatim.py": 675,
    "core/kpi.py": 672,
    "core/geo/index.py": 644,
    "core/formats/instances.py": 640,
    "core/roads/build.py": 603,
}
"""Modules longer than the rule, at most as long as they are here. The list only shrinks:
a module may not grow, and one back under the limit must leave the list."""


def _lines() -> dict[str, int]:
    return {
        str(path.relative_to(SRC)): len(path.read_text(encoding="utf-8").splitlines())
        for path in SRC.rglob("*.py")
        if "migrations" not in path.parts
    }


def test_no_module_is_longer_than_600_lines() -> None:
    lines = _lines()
    too_long = {
        name: n for name, n in lines.items() if n > MAX_LINES and n > TOO_LONG_TODAY.get(name, 0)
    }
    assert not too_long, (
        f"modules over {MAX_LINES} lines (split them; an allowed long module may not grow): "
        f"{too_long}"
    )


def test_the_allowlist_of_long_modules_only_shrinks() -> None:
    lines = _lines()
    short = {name: lines.get(name) for name in TOO_LONG_TODAY if lines.get(name, 0) <= MAX_LINES}
    assert not short, f"drop these from TOO_LONG_TODAY, they are short now (or gone): {short}"


# --- the slice map: no cycle between slices -------------------------------------------------


def _slice(module: str) -> str | None:
    """``lastmile.orders.service`` -> ``orders``: a package directly under ``lastmile`` is one
    slice, ``web`` included (the page frame below the slices' pages lives in ``pageframe``, so
    that ``web`` is wholly above them)."""
    parts = module.split(".")
    if len(parts) < 2:
        return None
    return parts[1]


def _slice_imports() -> dict[str, dict[str, list[str]]]:
    """Slice -> slices it imports -> the module imports that make the edge. Every import
    counts (inside functions too) but those under ``TYPE_CHECKING``, which never run."""
    import grimp

    graph = grimp.build_graph("lastmile", exclude_type_checking_imports=True)
    edges: dict[str, dict[str, list[str]]] = {}
    for module in graph.modules:
        here = _slice(module)
        for imported in graph.find_modules_directly_imported_by(module):
            there = _slice(imported)
            if here and there and here != there:
                edges.setdefault(here, {}).setdefault(there, []).append(f"{module} -> {imported}")
    return edges


def _cycles(edges: dict[str, dict[str, list[str]]]) -> list[list[str]]:
    """The strongly connected groups of more than one slice (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in edges.get(node, {}):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_two_slices_import_each_other_even_through_others() -> None:
    """The layers contract (``lint-imports``) only orders the slices it lists, and would let
    a back edge listed in its ``ignore_imports`` through; this looks at every module, listed
    or not, and every import: no slice may reach itself again through the slices it imports."""
    edges = _slice_imports()
    cycles = _cycles(edges)
    detail = [
        f"{' / '.join(group)}: "
        + "; ".join(link for a in group for b in group for link in edges.get(a, {}).get(b, [])[:1])
        for group in cycles
    ]
    assert not cycles, "slices importing each other (move the code where it belongs):\n" + (
        "\n".join(detail)
    )


def test_the_cycle_check_finds_a_cycle() -> None:
    """The check itself can fail: a made-up pair of slices importing each other is found."""
    edges = {"a": {"b": ["a.x -> b.y"]}, "b": {"c": ["b.y -> c.z"]}, "c": {"a": ["c.z -> a.x"]}}
    assert _cycles(edges) == [["a", "b", "c"]]
    assert _cycles({"a": {"b": ["a.x -> b.y"]}}) == []


NO_CODE = {"web", "data", "deploy"}
"""Packages that only hold files (templates and assets, sample data, deployment files): no
place in the slice map needed."""


def test_every_slice_has_its_place_in_the_slice_map() -> None:
    """A new slice (a package under ``lastmile``, a room of ``web/``) is placed in the layers
    contract, so lint-imports orders it too (an unlisted one may import anything)."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    placed = {
        name.strip().removeprefix("lastmile.")
        for contract in config["tool"]["importlinter"]["contracts"]
        for layer in contract.get("layers", [])
        for name in layer.split("|")
    }
    modules = (
        ".".join(("lastmile", *path.relative_to(SRC).with_suffix("").parts)).removesuffix(
            ".__init__"
        )
        for path in SRC.rglob("*.py")
        if "migrations" not in path.parts
    )
    slices = {_slice(module) for module in modules}
    placed |= {name.split(".")[0] for name in placed}  # a slice placed room by room
    missing = sorted(s for s in slices if s and s not in placed and s not in NO_CODE)
    assert not missing, f"slices without a place in [tool.importlinter] layers: {missing}"
