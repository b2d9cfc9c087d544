"""Every event type, in one place: what each means and who records it.

Services record events with these names (``events.service.record`` refuses any other), and
listeners (the driver app's stream, notifications, the live page, webhooks' filters) compare
with them, so a type that is listened for is a type that is emitted. Documented for API users
in ``docs/api.md`` (*Events*); a test checks that every type here is documented there.
"""

from __future__ import annotations

PLAN_QUEUED = "plan.queued"
PLAN_RUNNING = "plan.running"
PLAN_PROGRESS = "plan.progress"
PLAN_DONE = "plan.done"
PLAN_FAILED = "plan.failed"
PLAN_EDITED = "plan.edited"
ROUTE_DISPATCHED = "route.dispatched"
ROUTE_STARTED = "route.started"
ROUTE_FINISHED = "route.finished"
ROUTE_CHANGED = "route.changed"
STOP_CONFLICT = "stop.conflict"
ORDER_CREATED = "order.created"
ORDER_UPDATED = "order.updated"
ORDER_DELETED = "order.deleted"
ORDER_STATUS_CHANGED = "order.status_changed"
ORDER_POD_ADDED = "order.pod_added"
ORDER_HISTORY_ADDED = "order.history_added"
ORDER_CONTACT = "order.contact"
DRIVER_POSITION = "driver.position"
ETA_UPDATED = "eta.updated"
LATE_RISK = "late_risk"
DEPOT_CREATED = "depot.created"
DEPOT_UPDATED = "depot.updated"
DEPOT_DELETED = "depot.deleted"
VEHICLE_CREATED = "vehicle.created"
VEHICLE_UPDATED = "vehicle.updated"
VEHICLE_DELETED = "vehicle.deleted"
DRIVER_CREATED = "driver.created"
DRIVER_UPDATED = "driver.updated"
DRIVER_DELETED = "driver.deleted"

CATALOGUE: dict[str, str] = {
    PLAN_QUEUED: "a plan was asked for (plans)",
    PLAN_RUNNING: "the solver started on a plan (plans)",
    PLAN_PROGRESS: "the solver's progress on a plan (plans)",
    PLAN_DONE: "a plan was solved (plans)",
    PLAN_FAILED: "a plan could not be solved (plans)",
    PLAN_EDITED: "a dispatcher edited a plan (plans)",
    ROUTE_DISPATCHED: "a route was sent to its driver (plans)",
    ROUTE_STARTED: "the driver set off (drivers)",
    ROUTE_FINISHED: "the driver is back (drivers)",
    ROUTE_CHANGED: "a dispatched route changed: a stop added, removed or moved (live, drivers)",
    STOP_CONFLICT: "a driver reported on a stop moved while the phone was offline (drivers)",
    ORDER_CREATED: "an order was created (orders)",
    ORDER_UPDATED: "an order was changed (orders)",
    ORDER_DELETED: "an order was deleted (orders)",
    ORDER_STATUS_CHANGED: "an order's status changed, with when it happened (orders)",
    ORDER_POD_ADDED: "a proof of delivery was uploaded (drivers)",
    ORDER_HISTORY_ADDED: "a late report added to an order's history (drivers)",
    ORDER_CONTACT: "a customer contact was logged (analytics)",
    DRIVER_POSITION: "GPS points of a route in progress (drivers)",
    ETA_UPDATED: "a route's expected arrivals or promises moved (live)",
    LATE_RISK: "a stop's late risk changed (live)",
    DEPOT_CREATED: "a depot was created (fleet)",
    DEPOT_UPDATED: "a depot was changed (fleet)",
    DEPOT_DELETED: "a depot was deleted (fleet)",
    VEHICLE_CREATED: "a vehicle was created (fleet)",
    VEHICLE_UPDATED: "a vehicle was changed (fleet)",
    VEHICLE_DELETED: "a vehicle was deleted (fleet)",
    DRIVER_CREATED: "a driver was created (fleet)",
    DRIVER_UPDATED: "a driver was changed (fleet)",
    DRIVER_DELETED: "a driver was deleted (fleet)",
}
"""type -> what it means (and the slice that records it)."""
