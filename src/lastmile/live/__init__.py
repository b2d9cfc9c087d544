"""Live operations: ETAs and late risk of running routes, same-day inserts, re-optimising the
rest of the day, bookable delivery windows (issue 6). The pure parts are in
:mod:`lastmile.core.live`."""
