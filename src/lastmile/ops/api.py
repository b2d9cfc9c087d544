"""``POST /api/v1/customers/erase``: a customer's right to be forgotten, for admins."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from lastmile.auth.deps import Caller
from lastmile.common.web import AppSettings, DbSession
from lastmile.drivers.pod_store import store_for
from lastmile.ops import erasure
from lastmile.orgs.models import Role

router = APIRouter(prefix="/api/v1", tags=["customers"])


class ErasureRequest(BaseModel):
    email: str | None = Field(default=None, max_length=320, description="The customer's e-mail.")
    phone: str | None = Field(
        default=None, max_length=50, description="The customer's phone (any spacing)."
    )
    dry_run: bool = Field(
        default=False, description="Only find the orders (to confirm before erasing)."
    )


class ErasureRead(BaseModel):
    order_ids: list[str]
    """The customer's orders (found by e-mail or phone)."""
    erased: bool
    pod_files: int = 0
    messages: int = 0
    tracking_links: int = 0
    events: int = 0


@router.post(
    "/customers/erase",
    response_model=ErasureRead,
    operation_id="erase_customer",
    responses={403: {"description": "Admins only"}},
)
def erase_customer(
    body: ErasureRequest, caller: Caller, session: DbSession, settings: AppSettings
) -> ErasureRead:
    """Erase a customer's personal data from their orders (anonymous KPIs stay)."""
    caller.require(Role.ADMIN)
    ids = erasure.find_orders(
        session=session, org_id=caller.org_id, email=body.email, phone=body.phone
    )
    if body.dry_run or not ids:
        return ErasureRead(order_ids=ids, erased=False)
    report = erasure.erase_customer(
        session=session,
        store=store_for(settings),
        org_id=caller.org_id,
        order_ids=ids,
        actor=caller.actor,
    )
    return ErasureRead(
        order_ids=ids,
        erased=True,
        pod_files=report.pod_files,
        messages=report.messages,
        tracking_links=report.tracking_links,
        events=report.events,
    )
