"""Docs are a contract: every CLI command and every option of `plan` is documented."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main

from lastmile.cli import app

DOCS = Path(__file__).parents[1] / "docs"


def _commands() -> list[tuple[str, list[str]]]:
    group = typer.main.get_command(app)
    found: list[tuple[str, list[str]]] = []
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        sub = getattr(command, "commands", None)
        if sub:
            for sub_name, sub_command in sub.items():
                found.append(
                    (f"{name} {sub_name}", [o for p in sub_command.params for o in p.opts])
                )
        else:
            found.append((name, [o for p in command.params for o in p.opts]))
    return found


def test_every_command_is_documented() -> None:
    text = (DOCS / "cli.md").read_text()
    missing = [name for name, _ in _commands() if f"lastmile {name}" not in text]
    assert not missing, f"commands missing from docs/cli.md: {missing}"


def test_every_plan_option_is_documented() -> None:
    text = (DOCS / "cli.md").read_text()
    (options,) = [opts for name, opts in _commands() if name == "plan"]
    missing = [o for o in options if o.startswith("--") and o not in text]
    assert not missing, f"plan options missing from docs/cli.md: {missing}"


def test_readme_starts_with_the_two_setup_commands() -> None:
    readme = (DOCS.parent / "README.md").read_text()
    head = readme[:600]
    assert "make demo" in head and "make test" in head


def test_every_setting_is_documented() -> None:
    from lastmile.config import Settings

    text = (DOCS / "settings.md").read_text()
    missing = [name for name in Settings.model_fields if f"LASTMILE_{name.upper()}" not in text]
    assert not missing, f"settings missing from docs/settings.md: {missing}"


def test_every_route_is_documented() -> None:
    """Every route of the app (API, pages, operations) appears in some page of docs/, with its
    parameters written any way (``{order_id}`` or ``{id}``)."""
    import re

    from lastmile.app import _routers

    text = "\n".join(p.read_text() for p in DOCS.rglob("*.md"))
    missing = []
    for router in _routers():
        for route in router.routes:
            path: str = getattr(route, "path", "")
            pattern = re.sub(r"\\\{[^}]+\\\}", r"\\{[^}]+\\}", re.escape(path))
            if not re.search(pattern + r"(?![A-Za-z0-9_/])", text):
                missing.append(path)
    assert not missing, f"routes missing from docs/: {sorted(set(missing))}"


def _documented_text() -> str:
    """Every guide, with path parameters' names blurred (``{id}`` and ``{order_id}`` alike)."""
    text = "\n".join(p.read_text() for p in sorted(DOCS.rglob("*.md")))
    return re.sub(r"\{[^}]*\}", "{}", text)


def test_every_api_operation_is_documented(tmp_path: Path) -> None:
    """Each operation of the OpenAPI document appears as ``METHOD /path`` in a guide."""
    from lastmile.app import create_app
    from lastmile.config import Settings

    app = create_app(
        Settings(
            database_url=f"sqlite:///{tmp_path / 'docs.db'}",
            data_dir=tmp_path,
            use_roads=False,
            jobs="inline",
            secret_key="docs-test",
        )
    )
    text = _documented_text()
    operations = [
        f"{method.upper()} {path}"
        for path, item in app.openapi()["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    ]
    assert len(operations) > 50  # the whole API, not an empty document
    missing = [op for op in operations if re.sub(r"\{[^}]*\}", "{}", op) not in text]
    assert not missing, f"API operations documented nowhere in docs/: {missing}"
