"""docs/cli.md documents every option of ``lastmile simulate`` and ``lastmile demo`` in the
command's own section (tests/test_docs.py checks the commands and ``plan``'s options)."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer.main

from lastmile.cli import app

DOCS = Path(__file__).parents[2] / "docs" / "cli.md"


def _section(name: str) -> str:
    text = DOCS.read_text()
    start = text.index(f"## `lastmile {name}`")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else len(text)]


@pytest.mark.parametrize("name", ["simulate", "demo"])
def test_every_option_is_documented_in_its_section(name: str) -> None:
    command = typer.main.get_command(app).commands[name]  # type: ignore[attr-defined]
    options = [
        o
        for p in command.params
        for o in [*p.opts, *getattr(p, "secondary_opts", [])]
        if o.startswith("--") and o != "--help"
    ]
    section = _section(name)
    missing = [o for o in options if o not in section]
    assert not missing, f"options of `lastmile {name}` missing from docs/cli.md: {missing}"
    assert len(options) >= (15 if name == "simulate" else 7)
