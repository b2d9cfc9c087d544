"""Files for installing lastmile on a server: systemd units and a Caddy configuration.

They ship inside the package so that the installed version and its units always match;
``docs/deploy.md`` copies them from ``FILES`` (printed by ``python -m lastmile.deploy``).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

FILES = Path(str(resources.files("lastmile") / "deploy"))
UNITS = (
    "lastmile-web.service",
    "lastmile-worker.service",
    "lastmile-backup.service",
    "lastmile-backup.timer",
)
