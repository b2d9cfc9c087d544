"""What every command shares: reading files, writing outputs atomically, failing clearly."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console

from lastmile.core.errors import FieldIssue, InputError, LastmileError
from lastmile.core.model import Profile
from lastmile.core.roads.provider import TravelTimeProvider
from lastmile.core.roads.straight import StraightLineProvider

_stderr = Console(stderr=True)


def fail(error: LastmileError) -> NoReturn:
    """Print a domain error for a person and exit with status 1."""
    if isinstance(error, InputError) and error.issues:
        _stderr.print(f"[bold red]error:[/] {error.source}:", highlight=False)
        for issue in error.issues[:50]:
            _stderr.print(f"  - {issue.describe()}", highlight=False, markup=False)
        if len(error.issues) > 50:
            _stderr.print(f"  ... and {len(error.issues) - 50} more", highlight=False)
    else:
        _stderr.print(f"[bold red]error:[/] {error.message}", highlight=False)
    _stderr.print("Nothing was written.")
    raise typer.Exit(1)


def read_text(path: Path) -> str:
    """Read a user's text file: UTF-8 (with or without BOM), else Windows-1252 (Excel exports)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise InputError(
            issues=[FieldIssue(None, None, None, "file not found")], source=str(path)
        ) from exc
    except OSError as exc:
        raise InputError(
            issues=[FieldIssue(None, None, None, f"cannot be read: {exc.strerror}")],
            source=str(path),
        ) from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="strict") if _is_cp1252(data) else _undecodable(path)


def _is_cp1252(data: bytes) -> bool:
    try:
        data.decode("cp1252")
    except UnicodeDecodeError:
        return False
    return True


def _undecodable(path: Path) -> NoReturn:
    raise InputError(
        issues=[FieldIssue(None, None, None, "is not a text file (expected UTF-8 CSV)")],
        source=str(path),
    )


def write_outputs(outputs: Mapping[Path, str]) -> None:
    """Write every output, all or nothing: each goes to a temporary file first, then renamed."""
    staged: list[tuple[Path, Path]] = []
    try:
        for target, text in outputs.items():
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, name = tempfile.mkstemp(
                dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
            )
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                stream.write(text)
            staged.append((Path(name), target))
    except OSError as exc:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise LastmileError(f"cannot write output: {exc}") from exc
    for tmp, target in staged:
        tmp.replace(target)


def bundled_extract() -> Path:
    """The OpenStreetMap extract shipped with lastmile (Liechtenstein, ODbL)."""
    from lastmile.core.roads import default_extract

    return default_extract()


def load_provider(
    roads: Path | None, *, console: Console, profiles: Sequence[Profile] | None = None
) -> TravelTimeProvider:
    """Road travel times from an extract when given, else the straight-line estimate.

    The first use of an extract builds its road graph (with a progress bar) and caches it
    next to the file; later runs load the cache in a fraction of a second. ``profiles``
    (default: all) are the ones prepared: a city's hierarchy per profile takes a while, so
    a plan prepares only its fleet's.
    """
    if roads is None:
        return StraightLineProvider()
    if not roads.exists():
        raise InputError(
            issues=[FieldIssue(None, "--roads", str(roads), "file not found")],
            source="command line",
        )
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from lastmile.core.roads import RoadNetwork, RoadProvider

    with Progress(
        TextColumn("Road network {task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(roads.name, total=1.0)

        def update(fraction: float, message: str) -> None:
            progress.update(task, completed=fraction, description=f"{roads.name}: {message}")

        try:
            network = RoadNetwork.load(roads, profiles=profiles, on_progress=update)
        except (OSError, RuntimeError, ValueError) as exc:
            raise InputError(
                issues=[
                    FieldIssue(
                        None, "--roads", str(roads), f"is not a usable OpenStreetMap extract: {exc}"
                    )
                ],
                source="command line",
            ) from exc
    return RoadProvider(network)
