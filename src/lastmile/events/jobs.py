"""Webhook delivery: one attempt per job run, retried with exponential backoff."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx

from lastmile.auth.security import sign
from lastmile.common.clock import utcnow
from lastmile.common.jobs import JobContext
from lastmile.common.netguard import BLOCKED, Policy, guarded
from lastmile.config import Settings
from lastmile.events.models import Event, Webhook, WebhookDelivery

SIGNATURE_HEADER = "X-Lastmile-Signature"
BASE_DELAY_S = 10


def webhook_body(event: Event) -> bytes:
    """The JSON posted to a webhook (stable key order, so the signature is reproducible)."""
    body = {
        "id": event.id,
        "type": event.type,
        "created_at": event.created_at.isoformat(),
        "organisation_id": event.org_id,
        "data": event.payload,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def signature(secret: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256 of the raw body with the webhook's secret>``."""
    return "sha256=" + sign(secret, body.decode())


MAX_REDIRECTS = 3
NO_CONNECTION = "no connection (the host refused, was unreachable or did not answer in time)"


def post(
    settings: Settings, url: str, body: bytes, headers: dict[str, str]
) -> tuple[bool, int | None, str | None]:
    """POST to a user's URL under the outbound policy: (delivered, HTTP status, error).

    The errors are deliberately generic: which of refused, unreachable or timed out happened
    would let an admin map ports through the delivery log."""
    with guarded(Policy.from_settings(settings)) as policy:
        try:
            with httpx.Client(
                timeout=settings.webhook_timeout_s,
                follow_redirects=True,
                max_redirects=MAX_REDIRECTS,
                trust_env=False,  # no proxy from the environment: the policy sees the real host
            ) as client:
                response = client.post(url, content=body, headers=headers)
        except httpx.TooManyRedirects:
            return False, None, f"more than {MAX_REDIRECTS} redirects"
        except httpx.HTTPError:
            if policy.blocked:
                return False, None, f"refused: {policy.blocked[-1][:200]} {BLOCKED}"
            return False, None, NO_CONNECTION
    ok = 200 <= response.status_code < 300
    return ok, response.status_code, None if ok else f"HTTP {response.status_code}"


NOT_VISIBLE_RETRIES = 5
"""Times to look again for a delivery row the job cannot see yet (see below)."""


def deliver_webhook(context: JobContext, *, delivery_id: str, lookups: int = 0) -> None:
    """POST one event to one webhook; on failure schedule the next attempt (or give up)."""
    settings = context.settings
    with context.sessions() as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        if delivery is None:
            # The job is queued right after the commit that created the row; on SQLite a
            # connection opened at that instant may not see it yet. Look again shortly.
            if lookups < NOT_VISIBLE_RETRIES:
                context.run_later(
                    "deliver_webhook",
                    delay_s=0.5 * (lookups + 1),
                    delivery_id=delivery_id,
                    lookups=lookups + 1,
                )
            return
        if delivery.status != "pending":
            return  # already delivered or given up: a duplicate job changes nothing
        hook = session.get(Webhook, delivery.webhook_id)
        event = session.get(Event, delivery.event_id)
        if hook is None or event is None or not hook.active:
            delivery.status = "failed"
            delivery.last_error = "webhook removed or disabled"
            session.commit()
            return
        body = webhook_body(event)
        delivery.attempts += 1
        ok, delivery.last_status_code, delivery.last_error = post(
            settings,
            hook.url,
            body,
            {
                "Content-Type": "application/json",
                SIGNATURE_HEADER: signature(hook.secret, body),
                "X-Lastmile-Event": event.type,
                "X-Lastmile-Delivery": delivery.id,
            },
        )
        if ok:
            delivery.status = "delivered"
            delivery.delivered_at = utcnow()
            delivery.next_attempt_at = None
            session.commit()
            return
        if delivery.attempts >= settings.webhook_max_attempts:
            delivery.status = "failed"
            delivery.next_attempt_at = None
            session.commit()
            return
        delay = BASE_DELAY_S * 2 ** (delivery.attempts - 1)
        delivery.next_attempt_at = utcnow() + timedelta(seconds=delay)
        session.commit()
    context.run_later("deliver_webhook", delay_s=delay, delivery_id=delivery_id)
