"""Live operations, pure: ETAs from the driver's position, late risk, same-day insertions and
bookable delivery windows. No database, no clock: time is passed in (seconds since local
midnight of the route's date, like the rest of :mod:`lastmile.core`)."""
