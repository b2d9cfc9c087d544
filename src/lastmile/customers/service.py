"""The address book: the only module that queries or commits customers and their addresses.

Every query is scoped by ``org_id``; another organisation's customer or address is "not
found". An address is geocoded once, when it is saved (or when its text changes), and a
person may confirm the pin or move it; orders made for the address carry its location, so a
repeat customer's address is never geocoded again. Orders themselves belong to the orders
slice: this one creates them through ``orders.service`` and keeps a link row per order.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Sequence
from datetime import date

from sqlalchemy import delete as delete_rows
from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import Session

from lastmile.common.clock import utcnow
from lastmile.core.errors import FieldIssue, InputError, NotFound
from lastmile.core.geo.normalize import fold, housenumber_key, parse_address, street_key
from lastmile.customers.models import Customer, CustomerAddress, CustomerOrder
from lastmile.customers.schemas import (
    AddressIn,
    AddressUpdate,
    CustomerIn,
    CustomerOrderIn,
    CustomerUpdate,
    window_seconds,
)
from lastmile.integrations.geocode import Geocoder
from lastmile.orders import service as orders
from lastmile.orders.lifecycle import ACCEPTED_VERDICTS, OrderStatus
from lastmile.orders.models import Order
from lastmile.orders.schemas import OrderCreate, OrderUpdate, Window

MAX_LIMIT = 200


def match_key(address: str) -> str:
    """The address as the geocoder reads it (street, house number, postcode or town, with
    its abbreviations and spellings folded: "Landstr. 19, 9490 Vaduz" and "landstrasse 19
    9490 VADUZ" are one key), to recognise an address when it comes again without looking it
    up. Text the parser cannot split is compared on its letters and digits."""
    parsed = parse_address(address)
    if parsed.street and parsed.housenumber and (parsed.postcode or parsed.city):
        place = parsed.postcode or fold(parsed.city or "")
        return f"{street_key(parsed.street)}|{housenumber_key(parsed.housenumber)}|{place}"[:500]
    text = unicodedata.normalize("NFKD", address.casefold())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(re.findall(r"[a-z0-9ß]+", text))[:500]


# --- reading -------------------------------------------------------------------------------


def get(*, session: Session, org_id: str, customer_id: str) -> Customer:
    row = session.scalar(
        select(Customer).where(Customer.org_id == org_id, Customer.id == customer_id)
    )
    if row is None:
        raise NotFound(f"customer {customer_id!r} not found")
    return row


def list_customers(
    *, session: Session, org_id: str, q: str | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[Customer], int]:
    """One page of customers by name, searched in name, phone, e-mail and addresses."""
    if not 1 <= limit <= MAX_LIMIT or offset < 0:
        raise InputError(
            issues=[FieldIssue(None, "limit", str(limit), f"1 to {MAX_LIMIT}, offset 0 or more")],
            source="customer list",
        )
    query = select(Customer).where(Customer.org_id == org_id)
    if q and q.strip():
        text = q.strip().lower()
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        digits = re.sub(r"\D", "", text)
        in_address = exists().where(
            CustomerAddress.customer_id == Customer.id,
            CustomerAddress.org_id == org_id,
            or_(
                func.lower(CustomerAddress.address).like(pattern, escape="\\"),
                func.lower(CustomerAddress.label).like(pattern, escape="\\"),
            ),
        )
        conditions = [
            func.lower(Customer.name).like(pattern, escape="\\"),
            func.lower(Customer.email).like(pattern, escape="\\"),
            func.lower(Customer.phone).like(pattern, escape="\\"),
            in_address,
        ]
        if len(digits) >= 4:  # "+423 111" finds "+423111..."
            conditions.append(
                func.replace(func.replace(Customer.phone, " ", ""), "-", "").like(f"%{digits}%")
            )
        query = query.where(or_(*conditions))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(func.lower(Customer.name), Customer.id).limit(limit).offset(offset)
    )
    return list(rows), int(total)


def addresses_of(
    *, session: Session, org_id: str, customer_ids: Sequence[str]
) -> dict[str, list[CustomerAddress]]:
    """customer id -> their addresses, oldest first."""
    found: dict[str, list[CustomerAddress]] = {c: [] for c in customer_ids}
    if not customer_ids:
        return found
    for row in session.scalars(
        select(CustomerAddress)
        .where(
            CustomerAddress.org_id == org_id,
            CustomerAddress.customer_id.in_(list(customer_ids)),
        )
        .order_by(CustomerAddress.created_at, CustomerAddress.id)
    ):
        found[row.customer_id].append(row)
    return found


def order_counts(*, session: Session, org_id: str, customer_ids: Sequence[str]) -> dict[str, int]:
    if not customer_ids:
        return {}
    rows = session.execute(
        select(CustomerOrder.customer_id, func.count())
        .where(CustomerOrder.org_id == org_id, CustomerOrder.customer_id.in_(list(customer_ids)))
        .group_by(CustomerOrder.customer_id)
    )
    return {customer_id: int(n) for customer_id, n in rows}


def get_address(
    *, session: Session, org_id: str, customer_id: str, address_id: str
) -> CustomerAddress:
    get(session=session, org_id=org_id, customer_id=customer_id)
    row = session.scalar(
        select(CustomerAddress).where(
            CustomerAddress.org_id == org_id,
            CustomerAddress.customer_id == customer_id,
            CustomerAddress.id == address_id,
        )
    )
    if row is None:
        raise NotFound(f"address {address_id!r} of this customer not found")
    return row


def orders_of(*, session: Session, org_id: str, customer_id: str) -> list[Order]:
    """The customer's orders, newest delivery date first."""
    get(session=session, org_id=org_id, customer_id=customer_id)
    ids = list(
        session.scalars(
            select(CustomerOrder.order_id).where(
                CustomerOrder.org_id == org_id, CustomerOrder.customer_id == customer_id
            )
        )
    )
    found = orders.get_many(session=session, org_id=org_id, order_ids=ids)
    return sorted(found.values(), key=lambda o: (o.date, o.external_id), reverse=True)


def customer_of_order(*, session: Session, org_id: str, order_id: str) -> CustomerOrder | None:
    return session.scalar(
        select(CustomerOrder).where(
            CustomerOrder.org_id == org_id, CustomerOrder.order_id == order_id
        )
    )


# --- writing -------------------------------------------------------------------------------


def create(
    *, session: Session, org_id: str, customer_in: CustomerIn, geocoder: Geocoder | None
) -> Customer:
    """A new customer and their addresses (each geocoded once unless placed), one transaction."""
    customer = Customer(
        org_id=org_id,
        name=customer_in.name.strip(),
        phone=customer_in.phone.strip(),
        email=customer_in.email.strip(),
        notes=customer_in.notes,
        preferred_windows=window_seconds(customer_in.preferred_windows),
    )
    session.add(customer)
    session.flush()
    for address_in in customer_in.addresses:
        _new_address(session, customer, address_in, geocoder)
    session.commit()
    return customer


def update(
    *, session: Session, org_id: str, customer_id: str, customer_in: CustomerUpdate
) -> Customer:
    customer = get(session=session, org_id=org_id, customer_id=customer_id)
    sent = customer_in.model_fields_set
    for name in ("name", "phone", "email", "notes"):
        value = getattr(customer_in, name)
        if name in sent and value is not None:
            setattr(customer, name, value.strip() if name != "notes" else value)
    if "preferred_windows" in sent:
        customer.preferred_windows = window_seconds(customer_in.preferred_windows or [])
    session.commit()
    return customer


def delete(*, session: Session, org_id: str, customer_id: str) -> None:
    """Remove the customer and their addresses; their orders stay (unlinked)."""
    customer = get(session=session, org_id=org_id, customer_id=customer_id)
    session.execute(
        delete_rows(CustomerOrder).where(
            CustomerOrder.org_id == org_id, CustomerOrder.customer_id == customer.id
        )
    )
    session.execute(
        delete_rows(CustomerAddress).where(
            CustomerAddress.org_id == org_id, CustomerAddress.customer_id == customer.id
        )
    )
    session.delete(customer)
    session.commit()


def add_address(
    *,
    session: Session,
    org_id: str,
    customer_id: str,
    address_in: AddressIn,
    geocoder: Geocoder | None,
) -> CustomerAddress:
    customer = get(session=session, org_id=org_id, customer_id=customer_id)
    row = _new_address(session, customer, address_in, geocoder)
    session.commit()
    return row


def _new_address(
    session: Session, customer: Customer, address_in: AddressIn, geocoder: Geocoder | None
) -> CustomerAddress:
    row = CustomerAddress(
        org_id=customer.org_id,
        customer_id=customer.id,
        label=address_in.label.strip(),
        address=address_in.address.strip(),
        match_key=match_key(address_in.address),
        instructions=address_in.instructions,
    )
    if address_in.lon is not None:
        row.lon, row.lat, row.verdict, row.confirmed = address_in.lon, address_in.lat, "given", True
    else:
        _geocode(row, geocoder)
    session.add(row)
    session.flush()
    return row


def _geocode(row: CustomerAddress, geocoder: Geocoder | None) -> None:
    """Look the address up (the one time it is), keeping the location of an accepted answer."""
    row.lon = row.lat = None
    row.verdict = None
    row.confirmed = False
    row.geocoded_at = None
    if geocoder is None:
        return
    result = geocoder.geocode(row.address)
    row.verdict = result.verdict.value
    row.geocoded_at = utcnow()
    if row.verdict in ACCEPTED_VERDICTS and result.location is not None:
        row.lon, row.lat = result.location.lon, result.location.lat


def update_address(
    *,
    session: Session,
    org_id: str,
    customer_id: str,
    address_id: str,
    address_in: AddressUpdate,
    geocoder: Geocoder | None,
    actor: str,
) -> CustomerAddress:
    """Change an address. A pin placed or confirmed here also places the customer's open
    orders at this address that are still waiting for a location."""
    row = get_address(
        session=session, org_id=org_id, customer_id=customer_id, address_id=address_id
    )
    sent = address_in.model_fields_set
    if "label" in sent and address_in.label is not None:
        row.label = address_in.label.strip()
    if "instructions" in sent and address_in.instructions is not None:
        row.instructions = address_in.instructions
    if address_in.address is not None and match_key(address_in.address) != row.match_key:
        row.address = address_in.address.strip()
        row.match_key = match_key(row.address)
        _geocode(row, geocoder)
    elif address_in.address is not None:
        row.address = address_in.address.strip()  # spelling only: the place is the same
    placed = False
    if address_in.lon is not None and address_in.lat is not None:
        row.lon, row.lat, row.verdict, row.confirmed = address_in.lon, address_in.lat, "given", True
        placed = True
    elif address_in.confirmed:
        if row.lon is None:
            raise InputError(
                issues=[
                    FieldIssue(
                        None,
                        "confirmed",
                        "true",
                        "the address has no pin to confirm (the map could not place it): "
                        "send lon and lat",
                    )
                ],
                source="address",
            )
        row.confirmed = placed = True
    session.commit()
    if placed:
        _place_waiting_orders(session, row, actor)
    return row


def _place_waiting_orders(session: Session, row: CustomerAddress, actor: str) -> None:
    ids = list(
        session.scalars(
            select(CustomerOrder.order_id).where(
                CustomerOrder.org_id == row.org_id, CustomerOrder.address_id == row.id
            )
        )
    )
    for order in orders.get_many(session=session, org_id=row.org_id, order_ids=ids).values():
        if order.status == OrderStatus.NEW and order.lon is None:
            orders.update(
                session=session,
                org_id=row.org_id,
                order_id=order.id,
                order_in=OrderUpdate(lon=row.lon, lat=row.lat),
                actor=actor,
            )


def delete_address(*, session: Session, org_id: str, customer_id: str, address_id: str) -> None:
    row = get_address(
        session=session, org_id=org_id, customer_id=customer_id, address_id=address_id
    )
    session.delete(row)
    session.commit()


# --- orders for customers --------------------------------------------------------------------


def create_order(
    *,
    session: Session,
    org_id: str,
    customer_id: str,
    order_in: CustomerOrderIn,
    actor: str,
) -> orders.WriteResult:
    """An order for the customer at one of their addresses, located where the address is
    (never geocoded again). An address the map could not place must get its pin first."""
    customer = get(session=session, org_id=org_id, customer_id=customer_id)
    if order_in.address_id is not None:
        address = get_address(
            session=session, org_id=org_id, customer_id=customer_id, address_id=order_in.address_id
        )
    else:
        found = addresses_of(session=session, org_id=org_id, customer_ids=[customer_id])
        if not found[customer_id]:
            raise InputError(
                issues=[FieldIssue(None, "address_id", None, "the customer has no address yet")],
                source="customer order",
            )
        address = found[customer_id][0]
    if address.lon is None or address.lat is None:
        raise InputError(
            issues=[
                FieldIssue(
                    None,
                    "address_id",
                    address.id,
                    f"{address.address!r} is not on the map yet: place its pin on the "
                    "customer's page first",
                )
            ],
            source="customer order",
        )
    windows = (
        order_in.windows
        if order_in.windows is not None
        else [Window.from_seconds(w) for w in customer.preferred_windows]
    )
    notes = "\n".join(t for t in (address.instructions.strip(), order_in.notes.strip()) if t)
    order_create = OrderCreate(
        external_id=order_in.external_id or _new_external_id(order_in.date),
        date=order_in.date,
        address=address.address,
        lon=address.lon,
        lat=address.lat,
        windows=windows,
        service_s=order_in.service_s,
        demand=order_in.demand,
        description=order_in.description,
        notes=notes,
        customer=customer.name,
        phone=customer.phone,
        email=customer.email,
    )
    result = orders.create(session=session, org_id=org_id, order_in=order_create, actor=actor)
    link_order(
        session=session,
        org_id=org_id,
        customer_id=customer.id,
        address_id=address.id,
        order_id=result.order.id,
    )
    return result


def _new_external_id(day: date | None) -> str:
    """A readable order number for an order made in the dashboard: ``C-20261208-4f2a9c``."""
    stamp = (day or utcnow().date()).strftime("%Y%m%d")
    return f"C-{stamp}-{secrets.token_hex(3)}"


def link_order(
    *, session: Session, org_id: str, customer_id: str, address_id: str | None, order_id: str
) -> CustomerOrder:
    """Record that ``order_id`` is for the customer (at the address); again: moves the link."""
    row = customer_of_order(session=session, org_id=org_id, order_id=order_id)
    if row is None:
        row = CustomerOrder(org_id=org_id, order_id=order_id, customer_id=customer_id)
        session.add(row)
    row.customer_id, row.address_id = customer_id, address_id
    session.commit()
    return row


# --- customers arriving from elsewhere (shop connectors) -------------------------------------


def find_or_create(
    *,
    session: Session,
    org_id: str,
    external_ref: str | None,
    name: str,
    phone: str,
    email: str,
) -> Customer:
    """The customer a shop order is for: by the shop's customer reference, else by e-mail,
    else a new one (which keeps the reference). Contact details sent update the stored ones."""
    customer = None
    if external_ref:
        customer = session.scalar(
            select(Customer).where(Customer.org_id == org_id, Customer.external_ref == external_ref)
        )
    if customer is None and email.strip():
        customer = session.scalar(
            select(Customer)
            .where(Customer.org_id == org_id, func.lower(Customer.email) == email.strip().lower())
            .order_by(Customer.created_at)
            .limit(1)
        )
    if customer is None:
        customer = Customer(org_id=org_id, name=(name.strip() or email.strip() or "customer")[:200])
        session.add(customer)
    if external_ref and customer.external_ref is None:
        customer.external_ref = external_ref
    for field, value in (("name", name), ("phone", phone), ("email", email)):
        if value.strip():
            setattr(customer, field, value.strip()[:320])
    session.commit()
    return customer


def address_for(
    *, session: Session, customer: Customer, address: str, geocoder: Geocoder | None
) -> CustomerAddress:
    """The customer's address with this text (compared letters and digits only), or a new
    one, geocoded now: the one time it is."""
    key = match_key(address)
    for row in addresses_of(session=session, org_id=customer.org_id, customer_ids=[customer.id])[
        customer.id
    ]:
        if row.match_key == key:
            return row
    row = _new_address(session, customer, AddressIn(address=address[:500]), geocoder)
    session.commit()
    return row


def erase_personal_data(*, session: Session, org_id: str, order_ids: Sequence[str]) -> int:
    """Remove from the address book the customers these orders were for, with their
    addresses (a customer's right to be forgotten; ``ops/erasure.py``). Does not commit.
    Returns the customers removed."""
    ids = sorted(
        set(
            session.scalars(
                select(CustomerOrder.customer_id).where(
                    CustomerOrder.org_id == org_id, CustomerOrder.order_id.in_(list(order_ids))
                )
            )
        )
    )
    if not ids:
        return 0
    for model in (CustomerOrder, CustomerAddress):
        session.execute(
            delete_rows(model).where(model.org_id == org_id, model.customer_id.in_(ids))
        )
    session.execute(delete_rows(Customer).where(Customer.org_id == org_id, Customer.id.in_(ids)))
    return len(ids)


ADDRESS_BOOK_ACTOR = "system:address-book"


def place_from_address_book(*, session: Session, org_id: str, limit: int = 5000) -> int:
    """Give orders waiting for a location the location of the address book's address with the
    same text (letters and digits compared; a confirmed pin first), and link each to that
    customer when its e-mail, phone or name is the customer's. Returns the orders placed."""
    waiting = orders.list_needing_geocoding(session=session, org_id=org_id, limit=limit)
    keys = {o.id: match_key(o.address) for o in waiting if o.address.strip()}
    known: dict[str, list[CustomerAddress]] = {}
    wanted = sorted(set(keys.values()))
    for start in range(0, len(wanted), 500):
        for row in session.scalars(
            select(CustomerAddress)
            .where(
                CustomerAddress.org_id == org_id,
                CustomerAddress.match_key.in_(wanted[start : start + 500]),
                CustomerAddress.lon.is_not(None),
            )
            .order_by(CustomerAddress.confirmed.desc(), CustomerAddress.created_at)
        ):
            known.setdefault(row.match_key, []).append(row)
    placed = 0
    for order in waiting:
        candidates = known.get(keys.get(order.id, ""), [])
        if not candidates:
            continue
        owners = {
            c.id: c
            for c in session.scalars(
                select(Customer).where(
                    Customer.org_id == org_id,
                    Customer.id.in_([a.customer_id for a in candidates]),
                )
            )
        }
        match = next(
            (a for a in candidates if _same_person(owners.get(a.customer_id), order)), None
        )
        address = match or candidates[0]
        orders.set_location(
            session=session, org_id=org_id, order_id=order.id, lon=address.lon,
            lat=address.lat, verdict="given", actor=ADDRESS_BOOK_ACTOR,
        )  # fmt: skip
        if (
            match is not None
            and customer_of_order(session=session, org_id=org_id, order_id=order.id) is None
        ):
            link_order(
                session=session, org_id=org_id, customer_id=match.customer_id,
                address_id=match.id, order_id=order.id,
            )  # fmt: skip
        placed += 1
    return placed


def _same_person(customer: Customer | None, order: Order) -> bool:
    if customer is None:
        return False
    digits = re.sub(r"\D", "", customer.phone)
    return bool(
        (customer.email and customer.email.lower() == order.email.strip().lower())
        or (len(digits) >= 6 and digits == re.sub(r"\D", "", order.phone))
        or (customer.name and customer.name.casefold() == order.customer.strip().casefold())
    )
