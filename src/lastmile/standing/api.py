"""Standing orders and closed days API, for staff (admin, dispatcher; API keys act with their
role). Drivers: 403. Documented in ``docs/standing-orders.md``."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from sqlalchemy.orm import Session

from lastmile.auth.deps import Caller
from lastmile.auth.principal import STAFF
from lastmile.common.web import AppSettings, DbSession
from lastmile.core import recurrence
from lastmile.core.errors import FieldIssue, InputError
from lastmile.standing import service
from lastmile.standing.models import StandingOrder
from lastmile.standing.schemas import (
    ClosedDayIn,
    ClosedDayRead,
    GenerateResult,
    OccurrencePage,
    OccurrenceRead,
    StandingOrderIn,
    StandingOrderRead,
    StandingOrderUpdate,
)
from lastmile.standing.template import rule_of

router = APIRouter(prefix="/api/v1", tags=["standing orders"])

DayPath = Annotated[dt.date, Path(description="A local date, YYYY-MM-DD.")]
MAX_LISTED_DAYS = 400


def read(session: Session, row: StandingOrder) -> StandingOrderRead:
    return StandingOrderRead.of(
        row,
        recurrence.describe(rule_of(row)),
        service.next_dates(session=session, row=row),
    )


@router.get(
    "/standing-orders", response_model=list[StandingOrderRead], operation_id="list_standing_orders"
)
def list_standing_orders(
    caller: Caller,
    session: DbSession,
    customer_id: Annotated[
        str | None, Query(max_length=32, description="Only this customer's.")
    ] = None,
) -> list[StandingOrderRead]:
    """The organisation's standing orders (or one customer's), oldest first."""
    caller.require(*STAFF)
    rows = service.list_standing(session=session, org_id=caller.org_id, customer_id=customer_id)
    return [read(session, row) for row in rows]


@router.post(
    "/customers/{customer_id}/standing-orders",
    response_model=StandingOrderRead,
    status_code=201,
    operation_id="create_standing_order",
)
def create_standing_order(
    customer_id: str,
    body: StandingOrderIn,
    caller: Caller,
    session: DbSession,
    settings: AppSettings,
) -> StandingOrderRead:
    """A new standing order for the customer; the orders of the coming days are made at once."""
    caller.require(*STAFF)
    row = service.create(
        session=session,
        org_id=caller.org_id,
        customer_id=customer_id,
        standing_in=body,
        days_ahead=settings.standing_orders_days_ahead,
    )
    return read(session, row)


@router.get(
    "/standing-orders/{standing_order_id}",
    response_model=StandingOrderRead,
    operation_id="get_standing_order",
)
def get_standing_order(
    standing_order_id: str, caller: Caller, session: DbSession
) -> StandingOrderRead:
    """One standing order with its rule in words and its next dates."""
    caller.require(*STAFF)
    row = service.get(session=session, org_id=caller.org_id, standing_order_id=standing_order_id)
    return read(session, row)


@router.patch(
    "/standing-orders/{standing_order_id}",
    response_model=StandingOrderRead,
    operation_id="update_standing_order",
)
def update_standing_order(
    standing_order_id: str,
    body: StandingOrderUpdate,
    caller: Caller,
    session: DbSession,
    settings: AppSettings,
) -> StandingOrderRead:
    """Change the rule, the pause or the template; untouched future orders follow at once."""
    caller.require(*STAFF)
    row = service.update(
        session=session,
        org_id=caller.org_id,
        standing_order_id=standing_order_id,
        standing_in=body,
        days_ahead=settings.standing_orders_days_ahead,
    )
    return read(session, row)


@router.delete(
    "/standing-orders/{standing_order_id}",
    status_code=204,
    response_class=Response,
    operation_id="delete_standing_order",
)
def delete_standing_order(standing_order_id: str, caller: Caller, session: DbSession) -> Response:
    """Stop it: its orders from today on that are not planned yet are removed."""
    caller.require(*STAFF)
    service.delete(
        session=session,
        org_id=caller.org_id,
        standing_order_id=standing_order_id,
        actor=caller.actor,
    )
    return Response(status_code=204)


@router.get(
    "/standing-orders/{standing_order_id}/occurrences",
    response_model=OccurrencePage,
    operation_id="list_standing_order_occurrences",
)
def list_occurrences(
    standing_order_id: str,
    caller: Caller,
    session: DbSession,
    settings: AppSettings,
    first: Annotated[
        dt.date | None, Query(alias="from", description="First date; default: today.")
    ] = None,
    last: Annotated[
        dt.date | None, Query(alias="to", description="Last date; default: 6 weeks after from.")
    ] = None,
) -> OccurrencePage:
    """The standing order's dates and what became of each (made, edited, skipped, ...)."""
    caller.require(*STAFF)
    today = service.today(session=session, org_id=caller.org_id)
    start = first or today
    end = last or min(start, dt.date.max - dt.timedelta(days=42)) + dt.timedelta(days=42)
    if end < start or (end - start).days > MAX_LISTED_DAYS:
        raise InputError(
            issues=[
                FieldIssue(
                    None,
                    "to",
                    end.isoformat(),
                    f"must be from 'from' to {MAX_LISTED_DAYS} days later",
                )
            ],
            source="occurrences",
        )
    items = service.occurrences(
        session=session,
        org_id=caller.org_id,
        standing_order_id=standing_order_id,
        first=start,
        last=end,
    )
    return OccurrencePage(
        standing_order_id=standing_order_id,
        first=start,
        last=end,
        made_until=today + dt.timedelta(days=settings.standing_orders_days_ahead),
        items=items,
    )


@router.post(
    "/standing-orders/{standing_order_id}/occurrences/{day}/skip",
    response_model=OccurrenceRead,
    operation_id="skip_standing_order_date",
)
def skip_date(
    standing_order_id: str, day: DayPath, caller: Caller, session: DbSession
) -> OccurrenceRead:
    """Leave out one date: its order is cancelled, or, not made yet, it never is."""
    caller.require(*STAFF)
    return service.skip(
        session=session,
        org_id=caller.org_id,
        standing_order_id=standing_order_id,
        day=day,
        actor=caller.actor,
    )


@router.post(
    "/standing-orders/generate",
    response_model=GenerateResult,
    operation_id="generate_standing_orders",
)
def generate(caller: Caller, session: DbSession, settings: AppSettings) -> GenerateResult:
    """Make the orders due now (as the hourly round does); harmless to repeat."""
    caller.require(*STAFF)
    done = service.generate(
        session=session, org_id=caller.org_id, days_ahead=settings.standing_orders_days_ahead
    )
    return GenerateResult(
        made=done.made,
        updated=done.updated,
        removed=done.removed,
        failed=done.failed,
        until=done.until,
    )


@router.get("/closed-days", response_model=list[ClosedDayRead], operation_id="list_closed_days")
def list_closed_days(
    caller: Caller,
    session: DbSession,
    first: Annotated[dt.date | None, Query(alias="from", description="Default: today.")] = None,
) -> list[ClosedDayRead]:
    """The organisation's closed days from a date on (no standing order delivers then)."""
    caller.require(*STAFF)
    start = first or service.today(session=session, org_id=caller.org_id)
    rows = service.closed_days(session=session, org_id=caller.org_id, first=start)
    return [ClosedDayRead.of(r) for r in rows]


@router.put("/closed-days/{day}", response_model=ClosedDayRead, operation_id="set_closed_day")
def set_closed_day(
    day: DayPath, body: ClosedDayIn, caller: Caller, session: DbSession, settings: AppSettings
) -> ClosedDayRead:
    """Close a day (holiday): standing orders make nothing for it; untouched ones made go."""
    caller.require(*STAFF)
    row = service.set_closed_day(
        session=session,
        org_id=caller.org_id,
        day=day,
        note=body.note,
        days_ahead=settings.standing_orders_days_ahead,
    )
    return ClosedDayRead.of(row)


@router.delete(
    "/closed-days/{day}",
    status_code=204,
    response_class=Response,
    operation_id="delete_closed_day",
)
def delete_closed_day(
    day: DayPath, caller: Caller, session: DbSession, settings: AppSettings
) -> Response:
    """Open a closed day again; standing orders make its orders."""
    caller.require(*STAFF)
    service.remove_closed_day(
        session=session,
        org_id=caller.org_id,
        day=day,
        days_ahead=settings.standing_orders_days_ahead,
    )
    return Response(status_code=204)
