"""Every table, imported explicitly so the migrations (and the tests that empty every table)
see them all. It lives with the migrations, the one place that needs every slice's tables:
imported from anywhere else it would make ``db`` depend on every slice above it."""

from lastmile.analytics.models import Comparison
from lastmile.auth.models import AccessToken, ApiKey, Invitation, LoginThrottle, User
from lastmile.customers.models import Customer, CustomerAddress, CustomerOrder
from lastmile.db.base import Base
from lastmile.drivers.models import DeviceEvent, Position, ProofOfDelivery
from lastmile.events.models import Event, Webhook, WebhookDelivery
from lastmile.fleet.models import Depot, Driver, Vehicle
from lastmile.jobs.models import StoredJob
from lastmile.notifications.models import Notification, OrderRecipients
from lastmile.orders.models import Order, OrderEvent
from lastmile.orgs.models import Membership, Organisation
from lastmile.plans.models import Plan
from lastmile.routes.models import Route, Stop, StopEta
from lastmile.shops.models import ShopConnection, ShopDelivery, ShopOrder
from lastmile.standing.models import ClosedDay, StandingOccurrence, StandingOrder
from lastmile.tracking.models import CustomerInput, TrackingHit, TrackingLink, TrackingView

metadata = Base.metadata

__all__ = [
    "AccessToken",
    "ApiKey",
    "ClosedDay",
    "Comparison",
    "Customer",
    "CustomerAddress",
    "CustomerInput",
    "CustomerOrder",
    "Depot",
    "DeviceEvent",
    "Driver",
    "Event",
    "Invitation",
    "LoginThrottle",
    "Membership",
    "Notification",
    "Order",
    "OrderEvent",
    "OrderRecipients",
    "Organisation",
    "Plan",
    "Position",
    "ProofOfDelivery",
    "Route",
    "ShopConnection",
    "ShopDelivery",
    "ShopOrder",
    "StandingOccurrence",
    "StandingOrder",
    "Stop",
    "StopEta",
    "StoredJob",
    "TrackingHit",
    "TrackingLink",
    "TrackingView",
    "User",
    "Vehicle",
    "Webhook",
    "WebhookDelivery",
    "metadata",
]
