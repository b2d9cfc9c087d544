"""A delivery day driven against a running lastmile server, over its public HTTP API only.

``lastmile simulate`` and ``lastmile demo`` use it; nothing here reads the database or imports
the server's code: the simulation is a client like any other, so what it shows on the live
map, in the event log and in the KPIs is what real phones would cause.

The modules, in the order a day uses them: :mod:`.scenario` (the day's orders, jams, late
driver and same-day orders, from the seed; pure), :mod:`.client` (logins, the fleet and
reading the server's answers), :mod:`.legs` (where a phone drives), :mod:`.proofs` (the proof
images), :mod:`.phone` (one driver's app), :mod:`.day` (the discrete-event loop that plays
the phones), :mod:`.run` (a whole day: prepare, plan, dispatch, drive) and :mod:`.report`
(the tables printed at the end).
"""

from __future__ import annotations

from rich.console import Console

console = Console()
"""Where the simulation prints unless it is told otherwise (``Options.say``, ``out=``); the
``lastmile simulate`` command prints its errors there too."""
