"""The bundled sample day (Liechtenstein, © OpenStreetMap contributors): read by the CLI's
``plan`` and ``demo`` and by the simulator, which sits below the CLI."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def sample_path(name: str) -> Path:
    """A file of the bundled sample day."""
    return Path(str(resources.files("lastmile") / "data" / "sample" / name))
