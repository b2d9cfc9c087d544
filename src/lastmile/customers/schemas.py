"""Request and response bodies of the address book API. Units: seconds, WGS84 degrees,
windows as local ``HH:MM`` (as in the orders API)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field, model_validator

from lastmile.customers.models import Customer, CustomerAddress
from lastmile.orders.schemas import (
    Amount,
    Dimension,
    ExternalId,
    IsoDate,
    Lat,
    Lon,
    Window,
    Windows,
    _Input,
)


class AddressIn(_Input):
    """A new address of a customer; geocoded once when saved unless ``lon``/``lat`` are sent
    (then it counts as confirmed: the sender placed it)."""

    address: str = Field(min_length=3, max_length=500, description="Postal address as one line.")
    label: str = Field(default="", max_length=100, description='"home", "office", ...')
    instructions: str = Field(
        default="", max_length=2000, description="For the driver: gate code, back door, ..."
    )
    lon: Lon | None = None
    lat: Lat | None = None

    @model_validator(mode="after")
    def _pair(self) -> AddressIn:
        if (self.lon is None) != (self.lat is None):
            raise ValueError("give both lon and lat, or neither")
        return self


class AddressUpdate(_Input):
    """A partial change. A new ``address`` text is geocoded again (once) and needs confirming;
    ``lon``/``lat`` place the pin by hand (confirmed); ``confirmed: true`` confirms the
    geocoder's pin."""

    address: str | None = Field(default=None, min_length=3, max_length=500)
    label: str | None = Field(default=None, max_length=100)
    instructions: str | None = Field(default=None, max_length=2000)
    lon: Lon | None = None
    lat: Lat | None = None
    confirmed: bool | None = Field(default=None, strict=True)

    @model_validator(mode="after")
    def _pair(self) -> AddressUpdate:
        if (self.lon is None) != (self.lat is None):
            raise ValueError("give both lon and lat, or neither")
        if self.confirmed is False:
            raise ValueError("an address is unconfirmed only by changing its text")
        return self


class CustomerIn(_Input):
    """A new customer, optionally with addresses."""

    name: str = Field(min_length=1, max_length=200)
    phone: str = Field(default="", max_length=50)
    email: str = Field(default="", max_length=320)
    notes: str = Field(default="", max_length=2000)
    preferred_windows: Windows = Field(
        default_factory=list, description="Windows new orders for this customer get by default."
    )
    addresses: list[AddressIn] = Field(default_factory=list, max_length=20)


class CustomerUpdate(_Input):
    """A partial change: only the fields sent change."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    phone: str | None = Field(default=None, max_length=50)
    email: str | None = Field(default=None, max_length=320)
    notes: str | None = Field(default=None, max_length=2000)
    preferred_windows: Windows | None = None


class AddressRead(BaseModel):
    id: str
    label: str
    address: str
    lon: float | None
    lat: float | None
    verdict: str | None = Field(
        description="The geocoder's verdict when the address was looked up, or 'given'."
    )
    confirmed: bool = Field(description="A person checked or placed the pin.")
    geocoded_at: dt.datetime | None
    instructions: str

    @classmethod
    def of(cls, row: CustomerAddress) -> AddressRead:
        return cls(
            id=row.id,
            label=row.label,
            address=row.address,
            lon=row.lon,
            lat=row.lat,
            verdict=row.verdict,
            confirmed=row.confirmed,
            geocoded_at=row.geocoded_at,
            instructions=row.instructions,
        )


class CustomerRead(BaseModel):
    id: str
    name: str
    phone: str
    email: str
    notes: str
    preferred_windows: list[Window]
    external_ref: str | None = Field(description="Who the customer is in a connected shop.")
    addresses: list[AddressRead]
    orders: int = Field(description="Orders made for this customer.")
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def of(
        cls, customer: Customer, addresses: list[CustomerAddress], orders: int = 0
    ) -> CustomerRead:
        return cls(
            id=customer.id,
            name=customer.name,
            phone=customer.phone,
            email=customer.email,
            notes=customer.notes,
            preferred_windows=[Window.from_seconds(w) for w in customer.preferred_windows],
            external_ref=customer.external_ref,
            addresses=[AddressRead.of(a) for a in addresses],
            orders=orders,
            created_at=customer.created_at,
            updated_at=customer.updated_at,
        )


class CustomerPage(BaseModel):
    items: list[CustomerRead]
    total: int = Field(description="Customers matching the search, all pages together.")
    limit: int
    offset: int


class CustomerOrderIn(_Input):
    """An order for a customer at one of their addresses: the address's confirmed location is
    used (never geocoded again), the customer's name, phone and e-mail copied, their preferred
    windows used unless ``windows`` is sent."""

    address_id: str | None = Field(
        default=None, max_length=32, description="Default: the customer's first address."
    )
    date: IsoDate | None = Field(
        default=None, description="Delivery date; default: today in the organisation."
    )
    windows: Windows | None = Field(
        default=None, description="Default: the customer's preferred windows."
    )
    external_id: ExternalId | None = Field(
        default=None, description="The shop's order id; default: a new one."
    )
    description: str = Field(default="", max_length=2000)
    notes: str = Field(
        default="", max_length=2000, description="Added after the address's instructions."
    )
    demand: dict[Dimension, Amount] = Field(default_factory=dict)
    service_s: int | None = Field(default=None, strict=True, ge=0, le=86_400)


def window_seconds(windows: list[Window]) -> list[list[int]]:
    return [w.seconds() for w in windows]


def as_dict(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(exclude_unset=True)
