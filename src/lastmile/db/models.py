"""Every table, imported explicitly so the metadata (and migrations) see them all."""

from lastmile.auth.models import AccessToken, ApiKey, LoginAttempt, User
from lastmile.db.base import Base
from lastmile.drivers.models import DeviceEvent, Position, ProofOfDelivery
from lastmile.events.models import Event, Webhook, WebhookDelivery
from lastmile.fleet.models import Depot, Driver, Vehicle
from lastmile.notifications.models import Notification
from lastmile.orders.models import Order, OrderEvent
from lastmile.orgs.models import Membership, Organisation
from lastmile.plans.models import Plan, Route, Stop

metadata = Base.metadata

__all__ = [
    "AccessToken",
    "ApiKey",
    "Depot",
    "DeviceEvent",
    "Driver",
    "Event",
    "LoginAttempt",
    "Membership",
    "Notification",
    "Order",
    "OrderEvent",
    "Organisation",
    "Plan",
    "Position",
    "ProofOfDelivery",
    "Route",
    "Stop",
    "User",
    "Vehicle",
    "Webhook",
    "WebhookDelivery",
    "metadata",
]
