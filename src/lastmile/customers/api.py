"""Address book API for staff (admin, dispatcher; API keys act with their role). Drivers: 403.

Documented in ``docs/customers.md``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlalchemy.orm import Session

from lastmile.auth.deps import Caller
from lastmile.auth.principal import STAFF
from lastmile.common.web import AppSettings, DbSession
from lastmile.customers import service
from lastmile.customers.models import Customer
from lastmile.customers.schemas import (
    AddressIn,
    AddressRead,
    AddressUpdate,
    CustomerIn,
    CustomerOrderIn,
    CustomerPage,
    CustomerRead,
    CustomerUpdate,
)
from lastmile.integrations.configured import geocoder_for
from lastmile.orders.schemas import OrderRead, OrderWriteResult

router = APIRouter(prefix="/api/v1", tags=["customers"])


def read(session: Session, customer: Customer) -> CustomerRead:
    """One customer with their addresses and how many orders were made for them."""
    org_id, ids = customer.org_id, [customer.id]
    return CustomerRead.of(
        customer,
        service.addresses_of(session=session, org_id=org_id, customer_ids=ids)[customer.id],
        service.order_counts(session=session, org_id=org_id, customer_ids=ids).get(customer.id, 0),
    )


@router.get("/customers", response_model=CustomerPage, operation_id="list_customers")
def list_customers(
    caller: Caller,
    session: DbSession,
    q: Annotated[
        str | None,
        Query(max_length=200, description="Text in name, phone, e-mail, address or label."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=service.MAX_LIMIT)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> CustomerPage:
    """Customers by name, searched, one page at a time."""
    caller.require(*STAFF)
    rows, total = service.list_customers(
        session=session, org_id=caller.org_id, q=q, limit=limit, offset=offset
    )
    ids = [c.id for c in rows]
    addresses = service.addresses_of(session=session, org_id=caller.org_id, customer_ids=ids)
    counts = service.order_counts(session=session, org_id=caller.org_id, customer_ids=ids)
    return CustomerPage(
        items=[CustomerRead.of(c, addresses[c.id], counts.get(c.id, 0)) for c in rows],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.post(
    "/customers", response_model=CustomerRead, status_code=201, operation_id="create_customer"
)
def create_customer(
    body: CustomerIn, caller: Caller, session: DbSession, settings: AppSettings
) -> CustomerRead:
    """A new customer with their addresses (each geocoded once, unless lon/lat are sent)."""
    caller.require(*STAFF)
    customer = service.create(
        session=session,
        org_id=caller.org_id,
        customer_in=body,
        geocoder=geocoder_for(settings) if body.addresses else None,
    )
    return read(session, customer)


@router.get("/customers/{customer_id}", response_model=CustomerRead, operation_id="get_customer")
def get_customer(customer_id: str, caller: Caller, session: DbSession) -> CustomerRead:
    """One customer with their addresses."""
    caller.require(*STAFF)
    return read(
        session, service.get(session=session, org_id=caller.org_id, customer_id=customer_id)
    )


@router.patch(
    "/customers/{customer_id}", response_model=CustomerRead, operation_id="update_customer"
)
def update_customer(
    customer_id: str, body: CustomerUpdate, caller: Caller, session: DbSession
) -> CustomerRead:
    """Change name, phone, e-mail, notes or preferred windows (only the fields sent)."""
    caller.require(*STAFF)
    customer = service.update(
        session=session, org_id=caller.org_id, customer_id=customer_id, customer_in=body
    )
    return read(session, customer)


@router.delete(
    "/customers/{customer_id}",
    status_code=204,
    response_class=Response,
    operation_id="delete_customer",
)
def delete_customer(customer_id: str, caller: Caller, session: DbSession) -> Response:
    """Remove a customer and their addresses; their orders stay."""
    caller.require(*STAFF)
    service.delete(session=session, org_id=caller.org_id, customer_id=customer_id)
    return Response(status_code=204)


@router.post(
    "/customers/{customer_id}/addresses",
    response_model=AddressRead,
    status_code=201,
    operation_id="add_customer_address",
)
def add_address(
    customer_id: str, body: AddressIn, caller: Caller, session: DbSession, settings: AppSettings
) -> AddressRead:
    """Add an address, geocoded now (the one time it is) unless lon/lat are sent."""
    caller.require(*STAFF)
    row = service.add_address(
        session=session,
        org_id=caller.org_id,
        customer_id=customer_id,
        address_in=body,
        geocoder=None if body.lon is not None else geocoder_for(settings),
    )
    return AddressRead.of(row)


@router.patch(
    "/customers/{customer_id}/addresses/{address_id}",
    response_model=AddressRead,
    operation_id="update_customer_address",
)
def update_address(
    customer_id: str,
    address_id: str,
    body: AddressUpdate,
    caller: Caller,
    session: DbSession,
    settings: AppSettings,
) -> AddressRead:
    """Confirm or move the pin, rename, change instructions; a new text is geocoded again."""
    caller.require(*STAFF)
    row = service.update_address(
        session=session,
        org_id=caller.org_id,
        customer_id=customer_id,
        address_id=address_id,
        address_in=body,
        geocoder=geocoder_for(settings) if body.address is not None else None,
        actor=caller.actor,
    )
    return AddressRead.of(row)


@router.delete(
    "/customers/{customer_id}/addresses/{address_id}",
    status_code=204,
    response_class=Response,
    operation_id="delete_customer_address",
)
def delete_address(
    customer_id: str, address_id: str, caller: Caller, session: DbSession
) -> Response:
    """Remove one address (orders made for it stay)."""
    caller.require(*STAFF)
    service.delete_address(
        session=session, org_id=caller.org_id, customer_id=customer_id, address_id=address_id
    )
    return Response(status_code=204)


@router.get(
    "/customers/{customer_id}/orders",
    response_model=list[OrderRead],
    operation_id="list_customer_orders",
)
def list_customer_orders(customer_id: str, caller: Caller, session: DbSession) -> list[OrderRead]:
    """The customer's orders, newest delivery date first."""
    caller.require(*STAFF)
    rows = service.orders_of(session=session, org_id=caller.org_id, customer_id=customer_id)
    return [OrderRead.of(o) for o in rows]


@router.post(
    "/customers/{customer_id}/orders",
    response_model=OrderWriteResult,
    status_code=201,
    operation_id="create_customer_order",
)
def create_customer_order(
    customer_id: str, body: CustomerOrderIn, caller: Caller, session: DbSession
) -> OrderWriteResult:
    """An order for the customer at one of their addresses, placed where the address is."""
    caller.require(*STAFF)
    result = service.create_order(
        session=session,
        org_id=caller.org_id,
        customer_id=customer_id,
        order_in=body,
        actor=caller.actor,
    )
    return OrderWriteResult(
        result=result.result, existed=result.existed, order=OrderRead.of(result.order)
    )
