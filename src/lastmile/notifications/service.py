"""Customer messages: which order events make which messages, to whom, on which channel,
whether caps or quiet hours hold them back, and the log. The only module that queries or
commits notification rows.

Idempotency: every message has a ``dedupe_key`` (order, delivery date, kind, channel,
audience) that is unique in the table. A message is *claimed* by inserting its log row and
committing before anything is sent; a second job that gets there too fails on the unique key
and sends nothing. So a message goes out at most once per key, whichever process or how many
jobs handle the same event (and a new delivery date after a rescheduling is a new key).

Quiet hours: ``arriving_soon`` is urgent and always goes out; ``out_for_delivery`` and
``delayed`` would be stale later, so they are dropped (logged ``suppressed``); ``confirmed``,
``delivered``, ``failed`` and ``gift_delivered`` are queued and sent when the quiet hours end.

Monthly cap: paid channels (cost > 0) stop once the month's sent cost plus this message would
exceed ``monthly_cap``; the message is logged ``suppressed``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lastmile.common.names import first_name
from lastmile.common.netguard import Policy
from lastmile.config import Settings
from lastmile.core.errors import FieldIssue, InputError
from lastmile.core.times import local_hhmm
from lastmile.core.units import plausible_date_issue
from lastmile.events import types as event_types
from lastmile.events.models import Event
from lastmile.integrations.notify.apprise_channel import AppriseChannel
from lastmile.integrations.notify.base import Channel, NotifySettings, OutgoingMessage, SendError
from lastmile.integrations.notify.email import SmtpChannel
from lastmile.live.customer_eta import eta_of, route_etas
from lastmile.notifications import corrections, templates
from lastmile.notifications.links import IssueLink
from lastmile.notifications.models import Notification, OrderRecipients
from lastmile.notifications.schemas import (
    ChannelUsage,
    NotificationSettings,
    RecipientsBody,
    Usage,
)
from lastmile.notifications.settings import organisation
from lastmile.notifications.settings import settings_of as settings_of  # re-exported
from lastmile.notifications.targets import Target, targets
from lastmile.orders import service as orders
from lastmile.orders.lifecycle import OrderStatus
from lastmile.orders.models import Order
from lastmile.orgs import clock as org_clock
from lastmile.orgs.models import Organisation
from lastmile.routes import service as routes_service
from lastmile.routes.models import Route
from lastmile.routes.service import stop_of

log = logging.getLogger(__name__)

EVENT_STATUS_CHANGED = event_types.ORDER_STATUS_CHANGED
EVENT_ETA_UPDATED = event_types.ETA_UPDATED
JOB = "send_notifications"

KIND_FOR_STATUS = {
    OrderStatus.DISPATCHED.value: "confirmed",
    OrderStatus.OUT_FOR_DELIVERY.value: "out_for_delivery",
    OrderStatus.DELIVERED.value: "delivered",
    OrderStatus.FAILED.value: "failed",
}
"""Order status -> message. 'confirmed' goes out when the order is dispatched: the day's
route is fixed, so the message can give a time window and the tracking link."""

URGENT = frozenset({"arriving_soon"})
STALE_LATER = frozenset({"out_for_delivery", "delayed", "eta_changed"})
DEFAULT_COSTS = {"email": 0.0, "sms": 0.08, "chat": 0.02}
CHANNELS = ("email", "sms", "chat")


# --- settings (in lastmile.notifications.settings) ---------------------------------------


def cost_of(settings: NotificationSettings, channel: str) -> float:
    return float(settings.costs.get(channel, DEFAULT_COSTS.get(channel, 0.0)))  # type: ignore[call-overload]


# --- recipients (gift orders, language) ----------------------------------------------------


def get_recipients(*, session: Session, org_id: str, order_id: str) -> OrderRecipients:
    orders.get(session=session, org_id=org_id, order_id=order_id)
    row = session.scalar(
        select(OrderRecipients).where(
            OrderRecipients.org_id == org_id, OrderRecipients.order_id == order_id
        )
    )
    if row is not None:
        return row
    return OrderRecipients(
        org_id=org_id, order_id=order_id, gift=False, buyer_name="", buyer_email="", buyer_phone=""
    )


def set_recipients(
    *, session: Session, org_id: str, order_id: str, body: RecipientsBody
) -> OrderRecipients:
    orders.get(session=session, org_id=org_id, order_id=order_id)
    if body.gift and not (body.buyer_email.strip() or body.buyer_phone.strip()):
        raise InputError(
            issues=[
                FieldIssue(None, "buyer_email", "", "a gift needs the buyer's e-mail or phone")
            ],
            source="recipients",
        )
    row = session.scalar(
        select(OrderRecipients).where(
            OrderRecipients.org_id == org_id, OrderRecipients.order_id == order_id
        )
    )
    if row is None:
        row = OrderRecipients(org_id=org_id, order_id=order_id)
        session.add(row)
    for name, value in body.model_dump().items():
        setattr(row, name, value.strip() if isinstance(value, str) else value)
    session.commit()
    return row


# --- the log -------------------------------------------------------------------------------


def list_notifications(
    *,
    session: Session,
    org_id: str,
    order_id: str | None = None,
    status: str | None = None,
    channel: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Notification]:
    """The message log, newest first: at most 500 rows a call, ``offset`` pages on."""
    query = select(Notification).where(Notification.org_id == org_id)
    wanted = {"order_id": order_id, "status": status, "channel": channel}
    query = query.filter_by(**{k: v for k, v in wanted.items() if v})
    query = query.order_by(Notification.created_at.desc(), Notification.id)
    return list(session.scalars(query.limit(max(1, min(limit, 500))).offset(max(0, offset))))


def _month_start(org: Organisation, now: datetime) -> datetime:
    local = now.astimezone(ZoneInfo(org.timezone))
    return datetime.combine(local.date().replace(day=1), time(0), local.tzinfo).astimezone(UTC)


def _next_month(start: datetime, org: Organisation) -> datetime:
    local = start.astimezone(ZoneInfo(org.timezone)).date()
    first = date(local.year + (local.month == 12), local.month % 12 + 1, 1)
    return datetime.combine(first, time(0), ZoneInfo(org.timezone)).astimezone(UTC)


def month_cost(*, session: Session, org: Organisation, now: datetime) -> float:
    """What the organisation's sent messages cost this calendar month (its time zone)."""
    total = session.scalar(
        select(func.coalesce(func.sum(Notification.cost), 0.0)).where(
            Notification.org_id == org.id,
            Notification.status == "sent",
            Notification.sent_at >= _month_start(org, now),
        )
    )
    return float(total or 0.0)


def usage(*, session: Session, org_id: str, month: str | None = None) -> Usage:
    """Messages and cost per channel in one month (``YYYY-MM``, default this one)."""
    org = organisation(session, org_id)
    now = org_clock.now(org)
    if month:
        try:
            year, number = (int(p) for p in month.split("-"))
            day = date(year, number, 15)
            if plausible_date_issue(day):
                raise ValueError(month)
            now = datetime.combine(day, time(12), ZoneInfo(org.timezone))
        except ValueError:
            raise InputError(
                issues=[FieldIssue(None, "month", month, "must be YYYY-MM, 2000-01 to 2099-12")],
                source="usage",
            ) from None
    start = _month_start(org, now)
    end = _next_month(start, org)
    rows = session.execute(
        select(
            Notification.channel,
            Notification.status,
            func.count(),
            func.coalesce(func.sum(Notification.cost), 0.0),
        )
        .where(
            Notification.org_id == org_id,
            Notification.created_at >= start,
            Notification.created_at < end,
        )
        .group_by(Notification.channel, Notification.status)
    ).all()
    per: dict[str, dict[str, float]] = {}
    for channel, status, count, cost in rows:
        entry = per.setdefault(channel, {"sent": 0, "suppressed": 0, "failed": 0, "cost": 0.0})
        if status in entry:
            entry[status] += int(count)
        if status == "sent":
            entry["cost"] += float(cost)
    channels = [
        ChannelUsage(
            channel=c,
            sent=int(v["sent"]),
            suppressed=int(v["suppressed"]),
            failed=int(v["failed"]),
            cost=round(v["cost"], 4),
        )
        for c, v in sorted(per.items())
    ]
    return Usage(
        month=start.astimezone(ZoneInfo(org.timezone)).strftime("%Y-%m"),
        cost=round(sum(c.cost for c in channels), 4),
        monthly_cap=settings_of(org).monthly_cap,
        channels=channels,
    )


# --- quiet hours ---------------------------------------------------------------------------


def _clock(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def quiet_until(settings: NotificationSettings, zone: ZoneInfo, now: datetime) -> datetime | None:
    """When the current quiet hours end, or ``None`` if it is not quiet now."""
    if settings.quiet_hours is None:
        return None
    start, end = _clock(settings.quiet_hours.start), _clock(settings.quiet_hours.end)
    if start == end:
        return None
    local = now.astimezone(zone)
    t = local.time().replace(tzinfo=None)
    quiet = (start <= t < end) if start < end else (t >= start or t < end)
    if not quiet:
        return None
    day = local.date() if t < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, zone).astimezone(UTC)


# --- from events to messages ---------------------------------------------------------------


def wants(event_type: str, payload: dict[str, Any]) -> bool:
    """Whether a committed event may call for a message (the after-commit pipeline,
    ``jobs/pipeline.py``, enqueues :data:`JOB` for those): an order's status changed, or a
    route's new ETAs moved a promise."""
    if event_type == EVENT_STATUS_CHANGED:
        return True
    stops = payload.get("stops") if event_type == EVENT_ETA_UPDATED else None
    return isinstance(stops, list) and any(
        isinstance(s, dict) and s.get("promise_changed") for s in stops
    )


@dataclass(frozen=True)
class Planned:
    """One message to consider: an order and a kind (and the ETA it quotes)."""

    order: Order
    kind: str
    eta_from: datetime | None = None
    eta_to: datetime | None = None
    correction: bool = False
    """Sent because the promise moved (one message per new window)."""


def handle_events(
    *,
    session: Session,
    app: Settings,
    org_id: str,
    event_ids: Sequence[int],
    issue_link: IssueLink,
    now: datetime | None = None,
    schedule: Callable[[str, float], None] | None = None,
    missing: list[int] | None = None,
) -> list[Notification]:
    """Turn order status changes into messages and send them. Returns the log rows written
    by this call (claimed ones only: duplicates are skipped). Ids of events not visible (yet)
    are appended to ``missing``."""
    org = organisation(session, org_id)
    now = now or org_clock.now(org)
    settings = settings_of(org)
    if not _channels_on(settings):
        return []
    events = list(
        session.scalars(
            select(Event)
            .where(Event.org_id == org_id, Event.id.in_(list(event_ids)))
            .order_by(Event.id)
        )
    )
    if missing is not None:
        missing.extend(sorted(set(event_ids) - {e.id for e in events}))
    planned: list[Planned] = []
    routes: dict[str, Route] = {}
    for event in events:
        if event.type == EVENT_ETA_UPDATED:
            planned.extend(_corrections(session, app, org, settings, event.payload, now))
        if event.type != EVENT_STATUS_CHANGED:
            continue
        order_id = str(event.payload.get("order_id", ""))
        order = session.scalar(select(Order).where(Order.org_id == org_id, Order.id == order_id))
        if order is None:
            continue
        kind = KIND_FOR_STATUS.get(str(event.payload.get("to")))
        # Only the order's current status speaks: a job that runs late does not announce
        # 'out for delivery' for an order that is delivered already.
        if kind and order.status == event.payload.get("to"):
            planned.append(_with_eta(session, app, org, order, kind, now))
        found = stop_of(session=session, org_id=org_id, order=order)
        if found is not None:
            routes[found[0].id] = found[0]
    for route in routes.values():
        planned.extend(_route_messages(session, app, org, settings, route, now))
    written: list[Notification] = []
    for item in planned:
        written.extend(_send_planned(session, org, settings, item, now, schedule, issue_link))
    written.extend(send_due(session=session, org_id=org_id, now=now))
    return written


def _corrections(
    session: Session,
    app: Settings,
    org: Organisation,
    settings: NotificationSettings,
    payload: dict[str, Any],
    now: datetime,
) -> list[Planned]:
    """'New time' (or 'delayed') for the stops whose promise moved beyond the threshold."""
    out: list[Planned] = []
    for moved in corrections.moved_stops(payload):
        order = session.scalar(select(Order).where(Order.org_id == org.id, Order.id == moved.id))
        found = stop_of(session=session, org_id=org.id, order=order) if order else None
        if order is None or found is None or order.status not in corrections.EN_ROUTE:
            continue
        told = corrections.last_told(session=session, org=org, order=order)
        eta = eta_of(session=session, settings=app, org=org, route=found[0], stop=found[1], now=now)
        limit = timedelta(minutes=settings.correction_threshold_min)
        if told is not None and corrections.moved_beyond(told, (eta.eta_from, eta.eta_to), limit):
            kind = "delayed" if eta.late_s > 0 else "eta_changed"
            out.append(Planned(order, kind, eta.eta_from, eta.eta_to, correction=True))
    return out


def _channels_on(settings: NotificationSettings) -> bool:
    return settings.email or bool(settings.sms_url) or bool(settings.chat_url)


def _with_eta(
    session: Session, app: Settings, org: Organisation, order: Order, kind: str, now: datetime
) -> Planned:
    found = stop_of(session=session, org_id=org.id, order=order)
    if found is None or kind not in ("confirmed", "out_for_delivery"):
        return Planned(order=order, kind=kind)
    eta = eta_of(session=session, settings=app, org=org, route=found[0], stop=found[1], now=now)
    return Planned(order=order, kind=kind, eta_from=eta.eta_from, eta_to=eta.eta_to)


def _route_messages(
    session: Session,
    app: Settings,
    org: Organisation,
    settings: NotificationSettings,
    route: Route,
    now: datetime,
) -> list[Planned]:
    """'arriving soon' and 'delayed' for the orders still ahead on a route."""
    result: list[Planned] = []
    rows = routes_service.stops_with_orders(
        session=session, org_id=org.id, route_id=route.id, pending_only=True
    )
    views = route_etas(session=session, settings=app, org=org, route=route, now=now) if rows else {}
    for stop, order in rows:
        if order is None or order.status != OrderStatus.OUT_FOR_DELIVERY:
            continue
        eta = views.get(stop.id) or eta_of(
            session=session, settings=app, org=org, route=route, stop=stop, now=now
        )
        if not eta.started:
            continue
        soon = eta.stops_away <= settings.arriving_soon_stops or (
            eta.eta - now <= timedelta(minutes=settings.arriving_soon_minutes)
        )
        if soon:
            result.append(Planned(order, "arriving_soon", eta.eta_from, eta.eta_to))
        elif eta.late_s > 0 or eta.delay_s >= settings.delay_threshold_min * 60:
            result.append(Planned(order, "delayed", eta.eta_from, eta.eta_to))
    return result


def _date_text(day: date, language: str) -> str:
    if language == "de":
        return day.strftime("%d.%m.%Y")
    return day.strftime("%a %d %b %Y")


def _context(
    org: Organisation,
    order: Order,
    item: Planned,
    target: Target,
    url: str,
    recipients: OrderRecipients | None,
    driver: str,
) -> dict[str, Any]:
    zone = ZoneInfo(org.timezone)

    clock = partial(local_hhmm, zone=zone)
    gift = recipients is not None and recipients.gift
    if target.audience == "buyer" and recipients is not None:
        name = first_name(recipients.buyer_name)
    else:
        name = first_name(order.customer)
    values: dict[str, Any] = {
        "name": name,
        "org": org.name,
        "date": _date_text(order.date, target.language),
        "window_from": clock(item.eta_from),
        "window_to": clock(item.eta_to),
        "tracking_url": url,
        "pod_url": url,
        "reschedule_url": url,
        "driver": driver or ("Ihr Fahrer" if target.language == "de" else "Your driver"),
    }
    if not gift or target.audience == "buyer":
        values["order_ref"] = order.external_id
        values["value"] = f"{order.value:.2f}"
    if target.audience == "buyer":
        values["recipient_name"] = first_name(order.customer)
    if not item.eta_from and order.windows:
        start, end = order.windows[0]
        values["window_from"] = f"{start // 3600:02d}:{start % 3600 // 60:02d}"
        values["window_to"] = f"{end // 3600:02d}:{end % 3600 // 60:02d}"
    return values


def _send_planned(
    session: Session,
    org: Organisation,
    settings: NotificationSettings,
    item: Planned,
    now: datetime,
    schedule: Callable[[str, float], None] | None,
    issue_link: IssueLink,
) -> list[Notification]:
    order = item.order
    recipients = session.scalar(
        select(OrderRecipients).where(
            OrderRecipients.org_id == org.id, OrderRecipients.order_id == order.id
        )
    )
    to = [
        t
        for t in targets(settings, order, recipients, item.kind)
        if not _exists(session, _key(order, t, item))
    ]
    if not to:
        return []
    link_url = ""
    if any(t.audience == "recipient" for t in to):
        _, token = issue_link(
            session=session, org_id=org.id, order_id=order.id, purpose=item.kind, now=now
        )
        link_url = NotifySettings().public_url.rstrip("/") + f"/t/{token}"
    driver = ""
    found = stop_of(session=session, org_id=org.id, order=order)
    if found is not None and found[0].driver_id:
        from lastmile.fleet.models import Driver

        who = session.get(Driver, found[0].driver_id)
        driver = first_name(who.name) if who else ""
    zone = ZoneInfo(org.timezone)
    written: list[Notification] = []
    for target in to:
        url = link_url if target.audience == "recipient" else ""
        context = _context(org, order, item, target, url, recipients, driver)
        rendered = templates.render(
            target.kind, target.language, context, settings.model_dump(mode="json")["templates"]
        )
        cost = cost_of(settings, target.channel)
        row = Notification(
            org_id=org.id,
            order_id=order.id,
            channel=target.channel,
            recipient=target.address,
            audience=target.audience,
            template=target.kind,
            language=target.language,
            subject=rendered.subject,
            body=rendered.body if target.channel == "email" else rendered.text,
            dedupe_key=_key(order, target, item),
            promise_from=item.eta_from,
            promise_to=item.eta_to,
            status="sending",
            cost=0.0,
        )
        until = None if target.kind in URGENT else quiet_until(settings, zone, now)
        if until is not None and target.kind in STALE_LATER:
            row.status, row.error = "suppressed", "quiet hours (would be stale later)"
        elif until is not None:
            row.status, row.scheduled_for = "queued", until
        elif _over_cap(session, org, settings, cost, now):
            row.status, row.error = "suppressed", "monthly cap reached"
        if not _claim(session, row):
            continue
        written.append(row)
        if row.status == "queued" and schedule is not None and until is not None:
            schedule(row.id, max(1.0, org_clock.real_seconds(org, until - now)))
        if row.status == "sending":
            _deliver(session, row, cost)
    return written


def _over_cap(
    session: Session, org: Organisation, settings: NotificationSettings, cost: float, now: datetime
) -> bool:
    if cost <= 0 or settings.monthly_cap is None:
        return False
    return month_cost(session=session, org=org, now=now) + cost > settings.monthly_cap + 1e-9


def _key(order: Order, target: Target, item: Planned) -> str:
    key = f"{order.id}:{order.date.isoformat()}:{target.kind}:{target.channel}:{target.audience}"
    if item.correction and item.eta_from and item.eta_to:  # one per new window
        key += f":{item.eta_from:%Y%m%dT%H%M}-{item.eta_to:%H%M}"
    return key


def _exists(session: Session, key: str) -> bool:
    return session.scalar(select(Notification.id).where(Notification.dedupe_key == key)) is not None


def _claim(session: Session, row: Notification) -> bool:
    """Insert the log row; False if another job has claimed this message already."""
    session.add(row)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return False
    return True


def channel_for(settings: NotificationSettings, name: str) -> Channel:
    if name == "email":
        return SmtpChannel(NotifySettings())
    url = settings.sms_url if name == "sms" else settings.chat_url
    if not url:
        raise SendError(f"no {name} URL configured")
    return AppriseChannel(name, url, Policy.from_settings(NotifySettings()))


def _deliver(session: Session, row: Notification, cost: float) -> None:
    """Send a claimed message and log the outcome (cost only for messages that went out)."""
    org = organisation(session, row.org_id)
    settings = settings_of(org)
    message = OutgoingMessage(
        to=row.recipient, subject=row.subject, body=row.body, language=row.language
    )
    try:
        channel_for(settings, row.channel).send(message)
    except SendError as exc:
        row.status, row.error = "failed", str(exc)
    except Exception as exc:  # a channel library failing must not lose the log row
        log.exception("sending notification %s failed", row.id)
        row.status, row.error = "failed", f"{type(exc).__name__}: {exc}"[:1000]
    else:
        row.status, row.error, row.cost, row.sent_at = "sent", None, cost, org_clock.now(org)
    session.commit()


def send_due(
    *,
    session: Session,
    org_id: str,
    now: datetime | None = None,
    notification_ids: Iterable[str] | None = None,
) -> list[Notification]:
    """Send queued messages whose quiet hours are over (all due ones of the organisation, or
    the ones named). Each is claimed by moving it from ``queued`` to ``sending`` first."""
    org = organisation(session, org_id)
    now = now or org_clock.now(org)
    settings = settings_of(org)
    query = select(Notification.id).where(
        Notification.org_id == org_id,
        Notification.status == "queued",
        Notification.scheduled_for <= now,
    )
    if notification_ids is not None:
        query = query.where(Notification.id.in_(list(notification_ids)))
    sent: list[Notification] = []
    for notification_id in list(session.scalars(query)):
        claimed = session.execute(
            text(
                "UPDATE notifications SET status = 'sending' WHERE id = :id AND status = 'queued'"
            ),
            {"id": notification_id},
        )
        session.commit()
        if getattr(claimed, "rowcount", 0) != 1:
            continue
        row = session.get(Notification, notification_id)
        if row is None:
            continue
        session.refresh(row)
        cost = cost_of(settings, row.channel)
        if _over_cap(session, org, settings, cost, now):
            row.status, row.error = "suppressed", "monthly cap reached"
            session.commit()
            sent.append(row)
            continue
        _deliver(session, row, cost)
        sent.append(row)
    return sent


def erase_personal_data(*, session: Session, org_id: str, order_ids: Sequence[str]) -> int:
    """Blank the addresses and texts of the messages about these orders, and their buyer /
    recipient details; channel, template, status, time and cost stay (counts and costs).
    Returns the messages touched. Does not commit."""
    touched = 0
    for message in session.scalars(
        select(Notification).where(
            Notification.org_id == org_id, Notification.order_id.in_(order_ids)
        )
    ):
        message.recipient = ""
        message.subject = ""
        message.body = ""
        message.error = None
        touched += 1
    for row in session.scalars(
        select(OrderRecipients).where(
            OrderRecipients.org_id == org_id, OrderRecipients.order_id.in_(order_ids)
        )
    ):
        session.delete(row)
    return touched
