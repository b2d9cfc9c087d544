"""Write the exact versions of lastmile's runtime dependencies, all the way down, as a pip
constraints file (``make dist``): a server installs the wheel with the versions the test suite
ran with, not whatever is newest that day.

Reads the installed metadata of this environment (the one ``make`` built from the pins in
pyproject.toml): the closure of lastmile's requirements without extras, with each
requirement's own extras (``psycopg[binary]``) followed.
"""

from __future__ import annotations

import sys
from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name


def closure(root: str) -> dict[str, str]:
    pinned: dict[str, str] = {}
    todo: list[tuple[str, frozenset[str]]] = [(root, frozenset())]
    seen: set[tuple[str, frozenset[str]]] = set()
    while todo:
        name, extras = todo.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        dist = metadata.distribution(name)
        if name != root:
            pinned[canonicalize_name(name)] = dist.version
        for line in dist.requires or []:
            req = Requirement(line)
            envs = [{"extra": e} for e in extras] or [{"extra": ""}]
            if req.marker is not None and not any(req.marker.evaluate(env) for env in envs):
                continue
            todo.append((req.name, frozenset(req.extras)))
    return pinned


if __name__ == "__main__":
    pins = closure("lastmile")
    sys.stdout.write("".join(f"{name}=={version}\n" for name, version in sorted(pins.items())))
