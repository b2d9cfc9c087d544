"""The orders CSV: one row per stop. Documented in ``docs/csv-formats.md``.

Demand columns are matched to the fleet's capacity dimensions by name: a vehicles file with
``capacity_parcels`` and ``capacity_weight_kg`` makes ``parcels`` and ``weight_kg`` the
dimensions, and the orders file's ``parcels``/``quantity`` and ``weight_kg``/``weight``
columns fill them.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from lastmile.core.errors import FieldIssue, InputError
from lastmile.core.formats.addresses import ADDRESS_ALIASES, AddressColumns, address_line
from lastmile.core.formats.table import Columns, RowReader, match_columns, parse_windows, read_rows
from lastmile.core.model import Location, Order, OrderKind, TimeWindow
from lastmile.core.units import minutes_to_seconds

ORDER_ALIASES: dict[str, tuple[str, ...]] = {
    "id": (
        "order_id",
        "order",
        "order_no",
        "order_number",
        "reference",
        "ref",
        "external_id",
        "shipment_id",
        # German exports (a shop's spreadsheet in Liechtenstein, Austria, Germany)
        "bestellnummer",
        "bestellnr",
        "bestellung",
        "auftragsnummer",
        "auftragsnr",
        "auftrag",
        "referenz",
    ),
    **ADDRESS_ALIASES,
    "lon": ("lng", "long", "longitude", "x"),
    "lat": ("latitude", "y"),
    "window_start": (
        "tw_start",
        "time_window_start",
        "earliest",
        "from",
        "start_time",
        "ready_time",
        "window_from",
        "slot_start",
        "von",
        "ab",
    ),
    "window_end": (
        "tw_end",
        "time_window_end",
        "latest",
        "to",
        "end_time",
        "due_time",
        "due",
        "window_to",
        "slot_end",
        "bis",
    ),
    "time_window": (
        "time_windows",
        "window",
        "windows",
        "delivery_window",
        "slot",
        "tw",
        "lieferzeit",
        "lieferfenster",
        "zeitfenster",
        "uhrzeit",
    ),
    "service_min": (
        "service_minutes",
        "service_time",
        "service_time_min",
        "duration_min",
        "stop_duration",
        "service",
    ),
    "service_s": ("service_seconds", "service_time_s", "service_sec"),
    "required": ("must_deliver", "mandatory"),
    "priority": ("prio",),
    "value": ("prize", "revenue", "order_value"),
    "skills": ("required_skills", "requirements", "skill"),
    "kind": ("type", "order_type", "stop_type", "job_type"),
    "deliver_to": ("delivery_id", "pair_id", "paired_delivery", "deliver_to_id"),
    "date": ("delivery_date", "day", "service_date", "datum", "lieferdatum", "liefertag"),
    "earliest_date": ("from_date", "date_from", "deliver_from"),
    "latest_date": ("to_date", "date_to", "deliver_by", "deliver_until"),
    "notes": (
        "note",
        "instructions",
        "comment",
        "comments",
        "delivery_notes",
        "bemerkung",
        "bemerkungen",
        "hinweis",
        "hinweise",
        "notiz",
        "notizen",
        "anmerkung",
        "kommentar",
    ),
    "description": (
        "item",
        "item_description",
        "items_description",
        "contents",
        "goods",
        "products",
        "product",
        "article",
        "articles",
        "what",
        "artikel",
        "ware",
        "waren",
        "inhalt",
        "produkt",
        "produkte",
        "beschreibung",
    ),
    "customer": (
        "customer_name",
        "recipient",
        "recipient_name",
        "contact",
        "name",
        "kunde",
        "kundin",
        "kundenname",
        "empfänger",
        "empfaenger",
    ),
    "phone": (
        "phone_number",
        "telephone",
        "tel",
        "mobile",
        "telefon",
        "telefonnummer",
        "handy",
        "natel",
        "mobil",
    ),
    "email": ("e_mail", "email_address", "e_mail_adresse", "mail"),
}

DEMAND_ALIASES: dict[str, tuple[str, ...]] = {
    "parcels": (
        "quantity",
        "qty",
        "items",
        "packages",
        "pieces",
        "boxes",
        "parcel_count",
        "demand",
        "anzahl",
        "menge",
        "pakete",
        "stück",
        "stueck",
    ),
    "weight_kg": ("weight", "kg", "weight_kgs", "mass_kg", "gewicht", "gewicht_kg"),
    "volume_l": ("volume", "litres", "liters", "volume_litres", "volume_liters", "l"),
}
"""Common names for the usual dimensions; any other dimension is matched by its own name."""

REQUIRED_WORDS = frozenset({"must", "required", "high", "mandatory", "must_deliver"})
OPTIONAL_WORDS = frozenset({"optional", "low", "nice_to_have", "if_possible"})


@dataclass(frozen=True)
class OrderRow:
    """One parsed order with what the planner does not need but people do."""

    order: Order
    row: int
    date: date | None
    customer: str
    phone: str
    email: str
    description: str = ""
    """What to deliver, in words (the ``description``/``item`` column)."""
    earliest_date: dt.date | None = None
    latest_date: dt.date | None = None
    """A flexible order's range (``latest_date`` set): any day from ``earliest_date`` (or
    ``date``) to it; the rules are ``orders.schemas.check_range``'s."""


@dataclass(frozen=True)
class OrdersFile:
    rows: tuple[OrderRow, ...]
    dimensions: tuple[str, ...]
    unknown_columns: tuple[str, ...]
    missing_demand: tuple[str, ...]
    """Fleet dimensions this file has no column for (their demand is taken as 0)."""

    @property
    def orders(self) -> tuple[Order, ...]:
        return tuple(r.order for r in self.rows)


def _demand_columns(
    columns: Columns, header: Sequence[str], dimensions: Sequence[str]
) -> dict[str, str]:
    """dimension -> header column carrying its demand."""
    remaining = {h: h for h in columns.unknown}
    found: dict[str, str] = {}
    from lastmile.core.formats.table import normalise_header

    for dim in dimensions:
        names = {dim, f"demand_{dim}", *DEMAND_ALIASES.get(dim, ())}
        for h in list(remaining):
            if normalise_header(h) in names:
                found[dim] = h
                del remaining[h]
                break
    columns.unknown = [h for h in columns.unknown if h in remaining]
    return found


def parse_orders_csv(
    text: str,
    *,
    dimensions: Sequence[str] | None = None,
    source: str = "orders CSV",
    require_coordinates: bool = True,
) -> OrdersFile:
    """Parse the orders CSV; raise :class:`InputError` listing every bad cell.

    ``dimensions`` are the fleet's capacity dimensions. Without them, every demand column
    the file has (of the known names, or ``demand_*``) becomes a dimension.
    """
    header, rows = read_rows(text, source=source)
    columns = match_columns(header, ORDER_ALIASES, source=source)
    if dimensions is None:
        from lastmile.core.formats.table import normalise_header

        guessed: list[str] = []
        for h in columns.unknown:
            key = normalise_header(h)
            for dim, names in DEMAND_ALIASES.items():
                if key == dim or key in names:
                    guessed.append(dim)
            if key.startswith("demand_"):
                guessed.append(key.removeprefix("demand_"))
        dimensions = tuple(dict.fromkeys(guessed)) or ("parcels",)
    demand_columns = _demand_columns(columns, header, dimensions)
    missing_demand = tuple(d for d in dimensions if d not in demand_columns)

    issues: list[FieldIssue] = []
    if "id" not in columns.field_to_column:
        issues.append(FieldIssue(1, None, None, "no order id column (expected 'id' or 'order_id')"))
    has_coords = "lon" in columns.field_to_column and "lat" in columns.field_to_column
    if require_coordinates and not has_coords:
        issues.append(
            FieldIssue(
                1,
                None,
                None,
                "no coordinates: add 'lon' and 'lat' columns, or geocode the addresses first (lastmile geocode)",
            )
        )
    if "window_start" in columns.field_to_column and "window_end" not in columns.field_to_column:
        issues.append(
            FieldIssue(
                1,
                columns.field_to_column["window_start"],
                None,
                "has no matching window_end column",
            )
        )
    if issues:
        raise InputError(issues=issues, source=source)

    parsed: list[OrderRow] = []
    seen_ids: dict[str, int] = {}
    address_columns = AddressColumns.of(columns)
    for row_no, cells in rows:
        r = RowReader(row_no, cells, columns, issues)
        order_id = r.text("id", required=True)
        if order_id in seen_ids:
            r.fail("id", order_id, f"duplicates the id of row {seen_ids[order_id]}")
        seen_ids.setdefault(order_id, row_no)
        location = _location(r, required=require_coordinates)
        windows = _windows(r)
        service_s = 0
        if r.has("service_s"):
            service_s = round(r.number("service_s", default=0, minimum=0) or 0)
        elif r.has("service_min"):
            service_s = minutes_to_seconds(r.number("service_min", default=0, minimum=0) or 0)
        demand = tuple(
            r.number(
                dim,
                default=0.0,
                minimum=0,
                cell=(demand_columns[dim], cells.get(demand_columns[dim], "")),
            )
            or 0.0
            if dim in demand_columns
            else 0.0
            for dim in dimensions
        )
        required = _required(r)
        value = r.number("value", default=0.0, minimum=0) or 0.0
        kind = OrderKind.DELIVERY
        kind_text = r.raw("kind").lower()
        if kind_text in ("pickup", "pick_up", "pick-up", "collection", "collect", "return"):
            kind = OrderKind.PICKUP
        elif kind_text not in ("", "delivery", "deliver", "drop", "dropoff", "drop_off"):
            r.fail("kind", r.raw("kind"), "must be 'delivery' or 'pickup'")
        deliver_to = r.raw("deliver_to") or None
        if deliver_to is not None and kind is not OrderKind.PICKUP:
            kind = OrderKind.PICKUP  # naming a delivery makes the row its pickup
        day = _date(r)
        if location is None:
            location = Location(0.0, 0.0)  # only reachable when coordinates are not required
        try:
            order = Order(
                id=order_id,
                location=location,
                demand=demand,
                service_s=service_s,
                windows=windows,
                required=required,
                value=value,
                skills=r.words("skills"),
                kind=kind,
                deliver_to=deliver_to,
                external_id=order_id,
                address=address_line(cells, address_columns),
                notes=r.raw("notes"),
            )
        except ValueError as exc:
            issues.append(FieldIssue(row_no, None, None, str(exc)))
            continue
        parsed.append(
            OrderRow(
                order,
                row_no,
                day,
                r.raw("customer"),
                r.raw("phone"),
                r.raw("email"),
                r.raw("description"),
                _date(r, "earliest_date"),
                _date(r, "latest_date"),
            )
        )

    known = set(seen_ids)
    for item in parsed:
        target = item.order.deliver_to
        if target is not None and target not in known:
            issues.append(
                FieldIssue(
                    item.row,
                    columns.field_to_column.get("deliver_to"),
                    target,
                    "names an order id that is not in the file",
                )
            )
    if issues:
        raise InputError(issues=issues, source=source)
    return OrdersFile(tuple(parsed), tuple(dimensions), tuple(columns.unknown), missing_demand)


def _location(r: RowReader, *, required: bool) -> Location | None:
    if not (r.has("lon") or r.has("lat")):
        if required:
            r.fail("lon", None, "is empty: every order needs coordinates (or geocode first)")
        return None
    lon = r.number("lon")
    lat = r.number("lat")
    if lon is None or lat is None:
        if r.has("lon") != r.has("lat"):
            r.fail(
                "lat" if not r.has("lat") else "lon",
                None,
                "is empty but the other coordinate is not",
            )
        return None
    if not -180 <= lon <= 180:
        r.fail("lon", r.raw("lon"), "must be between -180 and 180")
        return None
    if not -90 <= lat <= 90:
        r.fail("lat", r.raw("lat"), "must be between -90 and 90")
        return None
    return Location(lon, lat)


def _windows(r: RowReader) -> tuple[TimeWindow, ...]:
    windows: list[TimeWindow] = []
    if r.has("time_window"):
        try:
            windows = [TimeWindow(a, b) for a, b in parse_windows(r.raw("time_window"))]
        except ValueError as exc:
            r.fail("time_window", r.raw("time_window"), str(exc))
    if r.has("window_start") or r.has("window_end"):
        start = r.clock("window_start")
        end = r.clock("window_end")
        if start is None and end is None:
            return tuple(windows)
        start = 0 if start is None else start
        end = 24 * 3600 if end is None else end
        if end < start:
            r.fail("window_end", r.raw("window_end"), "is before window_start")
        else:
            windows.append(TimeWindow(start, end))
    return tuple(sorted(windows))


def _required(r: RowReader) -> bool:
    if r.has("required"):
        return r.flag("required", default=True)
    if r.has("priority"):
        text = re.sub(r"[\s-]+", "_", r.raw("priority").lower())
        if text in REQUIRED_WORDS or (text.isdigit() and int(text) >= 1):
            return True
        if text in OPTIONAL_WORDS or text == "0":
            return False
        r.fail("priority", r.raw("priority"), "must be 'must' or 'optional'")
    return True


def _date(r: RowReader, name: str = "date") -> date | None:
    text = r.raw(name)
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        r.fail(name, text, "is not a date (YYYY-MM-DD)")
        return None
