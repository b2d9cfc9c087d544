"""A Shopify order (the JSON of its ``orders/*`` webhooks) in our words: where, when, what,
for whom. Pure: no database, no clock (the organisation's time zone is passed in).

Which attributes are read (names compared without case, spaces, ``_`` or ``-``, a leading
``_`` of hidden line-item properties ignored; the order's ``note_attributes`` first, then each
line item's ``properties``) is the table in ``docs/connectors/shopify.md``; keep them in step.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from lastmile.core.formats.table import parse_windows

DATE_NAMES = frozenset({"deliverydate", "deliveryday", "lieferdatum", "lieferdate", "lastmiledate"})
WINDOW_NAMES = frozenset(
    {"deliverywindow", "deliverytime", "deliveryslot", "timeslot", "timewindow", "lieferzeit",
     "lieferfenster", "lastmilewindow"}
)  # fmt: skip
INSTRUCTION_NAMES = frozenset(
    {"deliveryinstructions", "deliveryinstruction", "deliverynote", "deliverynotes",
     "instructions", "lieferhinweis", "lieferhinweise"}
)  # fmt: skip


class MappingError(ValueError):
    """The order cannot be read: the message names the attribute or field and what is wrong."""


@dataclass(frozen=True)
class ShopifyOrder:
    """What we take from a Shopify order."""

    shop_order_id: str
    name: str
    updated_at: dt.datetime
    cancelled: bool
    date: dt.date
    windows: list[tuple[int, int]]
    address: str
    """``address1, zip city, country``: the geocoder's kind of line (address2 goes to notes)."""
    recipient: str
    phone: str
    email: str
    customer_name: str
    """Who ordered (the shop's customer); the recipient may be someone else (a gift)."""
    customer_ref: str | None
    description: str
    items: int
    notes: str
    extras: dict[str, str] = field(default_factory=dict)


def _key(name: str) -> str:
    return re.sub(r"[\s_\-]+", "", name.strip().lstrip("_").casefold())


def _attributes(order: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(normalised name, name as sent, value), note attributes first, then line items'."""
    found: list[tuple[str, str, str]] = []
    lists = [order.get("note_attributes") or []] + [
        (item or {}).get("properties") or [] for item in order.get("line_items") or []
    ]
    for pairs in lists:
        for pair in pairs:
            if isinstance(pair, dict) and pair.get("name") is not None:
                value = "" if pair.get("value") is None else str(pair["value"]).strip()
                found.append((_key(str(pair["name"])), str(pair["name"]), value))
    return found


def _first(attributes: list[tuple[str, str, str]], names: frozenset[str]) -> tuple[str, str] | None:
    for key, name, value in attributes:
        if key in names and value:
            return name, value
    return None


def read_date(text: str) -> dt.date:
    """``2026-12-08``, ``08.12.2026``, ``08/12/2026`` (day first), ``2026/12/08``."""
    text = text.strip()
    for pattern in ("%Y-%m-%d", "%d.%m.%Y", "%d/%m/%Y", "%Y/%m/%d", "%d.%m.%y"):
        try:
            return dt.datetime.strptime(
                text[:10] if pattern == "%Y-%m-%d" else text, pattern
            ).date()
        except ValueError:
            continue
    raise ValueError(f"{text!r} is not a date (write 2026-12-08 or 08.12.2026)")


def _moment(text: Any, name: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(str(text))
    except ValueError as exc:
        raise MappingError(f"{name} {text!r} is not a date and time") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def read(order: dict[str, Any], *, timezone: str, shop_host: str) -> ShopifyOrder:
    """Map one order; :class:`MappingError` naming what cannot be read."""
    if not isinstance(order, dict) or order.get("id") in (None, ""):
        raise MappingError("the body is not a Shopify order (no id)")
    updated = _moment(order.get("updated_at") or order.get("created_at"), "updated_at")
    cancelled = bool(order.get("cancelled_at"))
    attributes = _attributes(order)
    zone = ZoneInfo(timezone)

    given_date = _first(attributes, DATE_NAMES)
    if given_date is not None:
        try:
            day = read_date(given_date[1])
        except ValueError as exc:
            raise MappingError(f"attribute {given_date[0]!r}: {exc}") from exc
    else:  # no date chosen at checkout: the day after the order was placed
        placed = _moment(order.get("created_at") or order.get("updated_at"), "created_at")
        day = placed.astimezone(zone).date() + dt.timedelta(days=1)
    windows: list[tuple[int, int]] = []
    given_window = _first(attributes, WINDOW_NAMES)
    if given_window is not None:
        try:
            windows = list(parse_windows(given_window[1]))
        except ValueError as exc:
            raise MappingError(f"attribute {given_window[0]!r}: {exc}") from exc

    ship = order.get("shipping_address") or {}
    if not cancelled and not _text(ship.get("address1")):
        raise MappingError(
            "the order has no shipping address (local pickup or nothing to ship): not a delivery"
        )
    town = " ".join(t for t in (_text(ship.get("zip")), _text(ship.get("city"))) if t)
    address = ", ".join(
        t for t in (_text(ship.get("address1")), town, _text(ship.get("country"))) if t
    )
    customer = order.get("customer") or {}
    buyer = " ".join(
        t for t in (_text(customer.get("first_name")), _text(customer.get("last_name"))) if t
    )
    recipient = _text(ship.get("name")) or " ".join(
        t for t in (_text(ship.get("first_name")), _text(ship.get("last_name"))) if t
    )
    items: list[str] = []
    count = 0
    for item in order.get("line_items") or []:
        if not isinstance(item, dict) or item.get("requires_shipping") is False:
            continue
        quantity = item.get("current_quantity", item.get("quantity"))
        if not isinstance(quantity, int) or quantity <= 0:
            continue
        items.append(f"{quantity} x {_text(item.get('name') or item.get('title'))}")
        count += quantity
    instructions = _first(attributes, INSTRUCTION_NAMES)
    notes = [t for t in (_text(ship.get("address2")), _text(ship.get("company"))) if t]
    if instructions:
        notes.append(instructions[1])
    if _text(order.get("note")):
        notes.append(_text(order.get("note")))
    return ShopifyOrder(
        shop_order_id=str(order["id"]),
        name=_text(order.get("name")) or f"#{order.get('order_number', order['id'])}",
        updated_at=updated,
        cancelled=cancelled,
        date=day,
        windows=windows,
        address=address,
        recipient=recipient or buyer,
        phone=_text(ship.get("phone")) or _text(order.get("phone")) or _text(customer.get("phone")),
        email=_text(order.get("email"))
        or _text(order.get("contact_email"))
        or _text(customer.get("email")),
        customer_name=buyer or recipient,
        customer_ref=f"shopify:{shop_host}:{customer['id']}" if customer.get("id") else None,
        description=", ".join(items),
        items=count,
        notes="\n".join(notes),
    )
