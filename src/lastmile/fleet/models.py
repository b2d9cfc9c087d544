"""Depots, vehicles and drivers of an organisation."""

from __future__ import annotations

from sqlalchemy import Float, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lastmile.common.ids import new_id
from lastmile.db.base import Base, OrgScoped


class Depot(OrgScoped, Base):
    __tablename__ = "depots"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("dep"))
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(500), default="")
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)


class Vehicle(OrgScoped, Base):
    __tablename__ = "vehicles"
    __table_args__ = (UniqueConstraint("org_id", "external_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("veh"))
    external_id: Mapped[str] = mapped_column(String(100))
    """The id people use (``VAN-1``), unique in the organisation."""
    name: Mapped[str] = mapped_column(String(200), default="")
    profile: Mapped[str] = mapped_column(String(16), default="van")
    depot_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("depots.id", ondelete="SET NULL"), default=None
    )
    start_lon: Mapped[float] = mapped_column(Float)
    start_lat: Mapped[float] = mapped_column(Float)
    end_lon: Mapped[float | None] = mapped_column(Float, default=None)
    end_lat: Mapped[float | None] = mapped_column(Float, default=None)
    open_end: Mapped[bool] = mapped_column(default=False)
    """Route ends at the last stop (end location ignored)."""
    shift_start_s: Mapped[int] = mapped_column(default=8 * 3600)
    shift_end_s: Mapped[int] = mapped_column(default=18 * 3600)
    capacity: Mapped[dict[str, float]] = mapped_column(default=dict)
    """Capacity per load dimension name."""
    skills: Mapped[list[str]] = mapped_column(default=list)
    cost_per_km: Mapped[float] = mapped_column(Float, default=0.0)
    cost_per_hour: Mapped[float] = mapped_column(Float, default=0.0)
    fixed_cost: Mapped[float] = mapped_column(Float, default=0.0)
    speed_factor: Mapped[float] = mapped_column(Float, default=1.0)
    max_duration_s: Mapped[int | None] = mapped_column(default=None)
    break_start_s: Mapped[int | None] = mapped_column(default=None)
    break_end_s: Mapped[int | None] = mapped_column(default=None)
    break_duration_s: Mapped[int | None] = mapped_column(default=None)
    max_overtime_s: Mapped[int] = mapped_column(default=0)
    overtime_cost_per_hour: Mapped[float] = mapped_column(Float, default=0.0)
    active: Mapped[bool] = mapped_column(default=True)


class Driver(OrgScoped, Base):
    __tablename__ = "drivers"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("drv"))
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(50), default="")
    user_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("users.id", ondelete="SET NULL"), default=None, index=True
    )
    """The login of the driver app, if the driver has one."""
    vehicle_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("vehicles.id", ondelete="SET NULL"), default=None
    )
    """The vehicle this driver usually drives."""
    active: Mapped[bool] = mapped_column(default=True)
    invitation_id: Mapped[str | None] = mapped_column(String(32), default=None)
    """The login invitation given to this driver (``auth``'s invitations), until it is
    accepted: the driver app links the new login to this driver on its first call."""
