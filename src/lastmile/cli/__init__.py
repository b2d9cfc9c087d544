"""The ``lastmile`` command line: one Typer app, one module per command group."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="lastmile",
    help="Plan and run last-mile delivery days on your own map data.",
    no_args_is_help=True,
    add_completion=False,
)

from lastmile.cli import instance as _instance  # noqa: E402

app.command("solve-instance")(_instance.solve_instance)

from lastmile.cli import roads as _roads  # noqa: E402

app.add_typer(_roads.app, name="roads")

from lastmile.cli import tiles as _tiles  # noqa: E402

app.add_typer(_tiles.app, name="tiles")


def main() -> None:
    """Console-script entry point."""
    app()


from lastmile.cli import plan as _plan  # noqa: E402

app.command("plan")(_plan.plan)

from lastmile.cli import geocode as _geocode  # noqa: E402

app.command("geocode")(_geocode.geocode)

from lastmile.cli import admin as _admin  # noqa: E402
from lastmile.cli import server as _server  # noqa: E402

app.command("serve")(_server.serve)
app.command("worker")(_server.worker)
app.add_typer(_admin.app, name="admin")

from lastmile.cli import demo as _demo  # noqa: E402

app.command("demo")(_demo.demo)

from lastmile.cli import simulate as _simulate  # noqa: E402

app.command("simulate")(_simulate.simulate)
