"""Who gets a message of an order, on which channels and in which language: the order's own
contact (the recipient) and, for a delivered gift, the buyer."""

from __future__ import annotations

from dataclasses import dataclass

from lastmile.notifications import templates
from lastmile.notifications.models import OrderRecipients
from lastmile.notifications.schemas import NotificationSettings
from lastmile.orders.models import Order


@dataclass(frozen=True)
class Target:
    audience: str
    channel: str
    address: str
    language: str
    kind: str


def targets(
    settings: NotificationSettings, order: Order, recipients: OrderRecipients | None, kind: str
) -> list[Target]:
    found: list[Target] = []
    gift = recipients is not None and recipients.gift
    language = templates.language_of(recipients.language if recipients else None, settings.language)

    def add(audience: str, email: str, phone: str, lang: str, message_kind: str) -> None:
        if message_kind not in settings.kinds:
            return
        if settings.email and email.strip():
            found.append(Target(audience, "email", email.strip(), lang, message_kind))
        if settings.sms_url and phone.strip():
            found.append(Target(audience, "sms", phone.strip(), lang, message_kind))
        if settings.chat_url and phone.strip():
            found.append(Target(audience, "chat", phone.strip(), lang, message_kind))

    add("recipient", order.email, order.phone, language, kind)
    if gift and recipients is not None and kind == "delivered":
        buyer_language = templates.language_of(recipients.buyer_language, settings.language)
        add(
            "buyer",
            recipients.buyer_email,
            recipients.buyer_phone,
            buyer_language,
            "gift_delivered",
        )
    return found
