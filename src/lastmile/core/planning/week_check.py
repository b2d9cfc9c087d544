"""Independent checker of a multi-day plan: each order once, on a day of its range, every day
feasible, no day above the balance.

Like :mod:`.check` it trusts nothing the planner computed: it takes the week's orders, ranges
and fleets as given, rebuilds each day's problem from the orders the plan puts on that day,
and runs the single-day checker on it (which recomputes times, loads and windows from the raw
matrices). The planner's own per-day problems are not used.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from lastmile.core.model import Plan, Problem
from lastmile.core.planning.balance import Balance, stop_cap_for
from lastmile.core.planning.check import CheckReport, Violation, ViolationCode, check
from lastmile.core.planning.week import WeekProblem


@dataclass(frozen=True)
class DayLoad:
    """What one day of a week plan asks of the fleet, measured from its routes."""

    date: dt.date
    stops: int
    hours: float
    vans: int
    """Vans with a route that day."""
    vans_offered: int


def day_loads(week: WeekProblem, days: Sequence[tuple[dt.date, Plan]]) -> list[DayLoad]:
    offered = {d.date: len(d.vehicles) for d in week.days}
    return [
        DayLoad(
            date=date,
            stops=sum(len(r.order_ids) for r in plan.routes),
            hours=round(sum(r.duration_s for r in plan.routes) / 3600, 2),
            vans=sum(1 for r in plan.routes if r.order_ids),
            vans_offered=offered.get(date, 0),
        )
        for date, plan in days
    ]


def check_week(
    week: WeekProblem,
    days: Sequence[tuple[dt.date, Plan]],
    balance: Balance | None = None,
    *,
    check_cost: bool = True,
) -> CheckReport:
    """Every violation of ``days`` (one plan per date) against ``week``."""
    balance = balance or Balance()
    report = CheckReport()
    add = report.violations.append
    orders = {o.id: o for o in week.orders}
    fleets = {d.date: d.vehicles for d in week.days}
    seen_dates = [date for date, _ in days]
    for day in week.days:
        if seen_dates.count(day.date) != 1:
            add(
                Violation(
                    ViolationCode.ORDER_MISSING,
                    f"{day.date}: the plan has {seen_dates.count(day.date)} plans for this day",
                )
            )
    where: dict[str, list[dt.date]] = {}
    for date, plan in days:
        if date not in fleets:
            add(Violation(ViolationCode.UNKNOWN_VEHICLE, f"{date} is not a day of the plan"))
            continue
        on_day = [oid for r in plan.routes for oid in r.order_ids]
        on_day += [u.order_id for u in plan.unassigned]
        for oid in on_day:
            where.setdefault(oid, []).append(date)
        for r in plan.routes:
            for oid in r.order_ids:
                if oid in orders:
                    first, last = week.ranges[oid]
                    if not first <= date <= last:
                        add(
                            Violation(
                                ViolationCode.WRONG_DAY,
                                f"order {oid} is served on {date}, outside its range "
                                f"{first}..{last}",
                                r.vehicle_id,
                                oid,
                            )
                        )
        problem = Problem(
            orders=tuple(orders[o] for o in dict.fromkeys(on_day) if o in orders),
            vehicles=fleets[date],
            dimensions=week.dimensions,
            locations=week.locations,
            matrices=week.matrices,
        )
        for v in check(plan, problem, check_cost=check_cost).violations:
            if v.code is ViolationCode.ORDER_DUPLICATED:
                continue  # counted over the whole week below
            add(replace_message(v, f"{date}: {v.message}"))
    for oid, dates in where.items():
        if oid not in orders:
            add(
                Violation(
                    ViolationCode.UNKNOWN_ORDER, f"order {oid} is not in the week", order_id=oid
                )
            )
        elif len(dates) > 1:
            add(
                Violation(
                    ViolationCode.ORDER_DUPLICATED,
                    f"order {oid} is planned {len(dates)} times ({', '.join(map(str, dates))})",
                    order_id=oid,
                )
            )
    for oid in orders:
        if oid not in where:
            add(
                Violation(
                    ViolationCode.ORDER_MISSING,
                    f"order {oid} is on no day (neither routed nor unassigned)",
                    order_id=oid,
                )
            )
    loads = day_loads(week, [(d, p) for d, p in days if d in fleets])
    total = sum(load.stops for load in loads)
    cap = stop_cap_for(total, len(week.days), balance)
    for load in loads:
        if load.stops > cap:
            add(
                Violation(
                    ViolationCode.DAY_BALANCE,
                    f"{load.date} has {load.stops} stops; the balance allows {cap} "
                    f"({balance.max_above_mean:.0%} above the mean of "
                    f"{total / len(week.days):.1f})",
                    amount=load.stops - cap,
                )
            )
    return report


def replace_message(violation: Violation, message: str) -> Violation:
    return Violation(
        violation.code, message, violation.vehicle_id, violation.order_id, violation.amount
    )


__all__ = ["DayLoad", "check_week", "day_loads"]
