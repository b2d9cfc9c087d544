"""Server-side request forgery (#13 item 3): webhooks and notification URLs reach only public
addresses, in every spelling, after every redirect, connecting to the address that was
checked (DNS rebinding), with generic errors. The resolver is injected; receivers listen on
loopback addresses that each test allows or not."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from helpers.live import Receiver
from helpers.service import make_org
from lastmile.common.jobs import JobContext
from lastmile.common.netguard import BlockedAddress, Policy, UrlRefused, check_url, use_resolver
from lastmile.config import Settings
from lastmile.db.engine import create_db_engine, session_factory
from lastmile.events import service as events
from lastmile.events.jobs import NO_CONNECTION, deliver_webhook
from lastmile.events.models import WebhookDelivery
from lastmile.integrations.notify.apprise_channel import AppriseChannel
from lastmile.integrations.notify.base import OutgoingMessage, SendError

HTTP = frozenset({"http", "https"})
REFUSED = [
    "http://127.0.0.1/",
    "http://2130706433/",  # decimal
    "http://0x7f000001/",  # hex
    "http://0177.0.0.1/",  # octal
    "http://127.1/",  # short form
    "http://0/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",  # IPv4-mapped
    "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 of the metadata address
    "http://169.254.169.254/latest/meta-data/",
    "http://0xa9fea9fe/",
    "http://10.0.0.1/",
    "http://172.16.5.4/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",  # carrier-grade NAT
    "http://[fe80::1]/",
    "http://[fd00::1]/",
    "http://224.0.0.1/",
    "http://localhost:8000/",
    "http://api.localhost/",
]


@pytest.mark.parametrize("url", REFUSED)
def test_private_targets_in_any_spelling_are_refused(url: str) -> None:
    with pytest.raises(UrlRefused):
        check_url(url, Policy(), schemes=HTTP)


def test_public_targets_and_allowed_networks_pass() -> None:
    check_url("https://hooks.example.com/lastmile", Policy(), schemes=HTTP)
    check_url("http://93.184.216.34:8080/x", Policy(), schemes=HTTP)
    with pytest.raises(UrlRefused, match="must start with"):
        check_url("file:///etc/passwd", Policy(), schemes=HTTP)
    allowed = Policy(allowed_networks=(ipaddress.ip_network("10.1.2.0/24"),))
    check_url("http://10.1.2.3/", allowed, schemes=HTTP)
    with pytest.raises(UrlRefused):
        check_url("http://10.1.3.3/", allowed, schemes=HTTP)


def test_a_name_is_refused_if_any_of_its_addresses_is_private() -> None:
    policy = Policy(resolver=lambda host, port: ["93.184.216.34", "10.0.0.7"])
    with pytest.raises(BlockedAddress):
        policy.addresses("mixed.example", 443)
    assert policy.blocked == ["mixed.example"]
    assert Policy(resolver=lambda h, p: ["93.184.216.34"]).addresses("ok.example", 443) == [
        "93.184.216.34"
    ]


def _context(client: TestClient, allowed: list[str]) -> JobContext:
    settings: Settings = client.app.state.settings  # type: ignore[attr-defined]
    strict = settings.model_copy(update={"outbound_allowed_networks": allowed})
    return JobContext(strict, client.app.state.sessions, lambda *a, **k: None)  # type: ignore[attr-defined]


def _delivery_for(client: TestClient, url: str) -> str:
    """A webhook to ``url`` (stored as if saved under a permissive policy) and one delivery,
    written through an engine of its own, so the app's job runner does not deliver it first."""
    org = make_org(client, "Alpha")
    settings: Settings = client.app.state.settings  # type: ignore[attr-defined]
    engine = create_db_engine(settings.resolved_database_url)
    permissive = Policy(allowed_networks=(ipaddress.ip_network("0.0.0.0/0"),))
    try:
        with session_factory(engine)() as session:
            hook = events.create_webhook(
                session=session, org_id=org.org_id, url=url, event_types=[], policy=permissive
            )
            events.record(session=session, org_id=org.org_id, type="order.created", payload={})
            session.commit()
            return session.query(WebhookDelivery).filter_by(webhook_id=hook.id).one().id
    finally:
        engine.dispose()


def _delivery(client: TestClient, delivery_id: str) -> WebhookDelivery:
    sessions: sessionmaker[Session] = client.app.state.sessions  # type: ignore[attr-defined]
    with sessions() as session:
        row = session.get(WebhookDelivery, delivery_id)
        assert row is not None
        return row


def test_webhook_to_loopback_is_not_delivered(client: TestClient) -> None:
    with Receiver() as receiver:
        delivery_id = _delivery_for(client, receiver.url)
        deliver_webhook(_context(client, []), delivery_id=delivery_id)
        assert receiver.requests == []
    row = _delivery(client, delivery_id)
    assert row.status == "pending" and row.last_status_code is None
    assert "127.0.0.1" in (row.last_error or "") and "not a public address" in (
        row.last_error or ""
    )


def test_webhook_name_resolving_to_loopback_is_refused(client: TestClient) -> None:
    with Receiver() as receiver:
        delivery_id = _delivery_for(client, f"http://hooks.example.test:{receiver.port}/hook")
        with use_resolver(lambda host, port: ["127.0.0.1"]):
            deliver_webhook(_context(client, []), delivery_id=delivery_id)
        assert receiver.requests == []
        assert "hooks.example.test" in (_delivery(client, delivery_id).last_error or "")
        # The same name, the network explicitly allowed: delivered through the checked address.
        with use_resolver(lambda host, port: ["127.0.0.1"]):
            deliver_webhook(_context(client, ["127.0.0.1/32"]), delivery_id=delivery_id)
        assert len(receiver.requests) == 1
        assert receiver.requests[0][0]["host"] == f"hooks.example.test:{receiver.port}"
    assert _delivery(client, delivery_id).status == "delivered"


def test_dns_rebinding_gets_no_second_lookup(client: TestClient) -> None:
    """The first answer is allowed (127.0.0.2), every later one would be refused: the
    connection goes to the first, because the name is looked up once."""
    answers: list[str] = []

    def rebinding(host: str, port: int) -> list[str]:
        answers.append(host)
        return ["127.0.0.2"] if len(answers) == 1 else ["127.0.0.1"]

    with Receiver(host="127.0.0.2") as receiver:
        delivery_id = _delivery_for(client, f"http://rebind.example.test:{receiver.port}/hook")
        with use_resolver(rebinding):
            deliver_webhook(_context(client, ["127.0.0.2/32"]), delivery_id=delivery_id)
        assert len(receiver.requests) == 1
    assert answers == ["rebind.example.test"]
    assert _delivery(client, delivery_id).status == "delivered"


def test_every_redirect_is_checked(client: TestClient) -> None:
    with Receiver() as inside, Receiver(host="127.0.0.2") as outside:
        outside.location = inside.url  # an allowed receiver redirecting to a refused one
        delivery_id = _delivery_for(client, outside.url)
        deliver_webhook(_context(client, ["127.0.0.2/32"]), delivery_id=delivery_id)
        assert len(outside.requests) == 1 and inside.requests == []
        outside.location = f"http://inner.example.test:{inside.port}/hook"
        with use_resolver(lambda host, port: ["127.0.0.1"]):
            deliver_webhook(_context(client, ["127.0.0.2/32"]), delivery_id=delivery_id)
        assert inside.requests == []
    assert "inner.example.test" in (_delivery(client, delivery_id).last_error or "")


def test_delivery_errors_are_generic(client: TestClient) -> None:
    with Receiver() as receiver:
        closed = receiver.port
    delivery_id = _delivery_for(client, f"http://127.0.0.1:{closed}/hook")
    deliver_webhook(_context(client, ["127.0.0.0/8"]), delivery_id=delivery_id)
    row = _delivery(client, delivery_id)
    assert row.last_error == NO_CONNECTION
    org = make_org(client, "Beta")
    hook = client.post(
        "/api/v1/webhooks", json={"url": "https://hooks.example.com/x"}, headers=org.admin
    )
    assert hook.status_code == 201


@pytest.mark.parametrize(
    "url",
    ["http://169.254.169.254/x", "http://[::1]:9/x", "http://0xa9fea9fe/", "http://10.0.0.1/"],
)
def test_webhook_api_refuses_private_urls(client: TestClient, url: str) -> None:
    org = make_org(client, "Alpha")
    response = client.post("/api/v1/webhooks", json={"url": url}, headers=org.admin)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "url"
    assert client.get("/api/v1/webhooks", headers=org.admin).json() == []


def _put_sms(client: TestClient, headers: dict[str, str], url: str) -> Any:
    body = client.get("/api/v1/notifications/settings", headers=headers).json()
    body["notifications"]["sms_url"] = url
    return client.put("/api/v1/notifications/settings", json=body, headers=headers)


def test_notification_urls_only_fixed_providers_or_public_gateways(client: TestClient) -> None:
    org = make_org(client, "Alpha")
    ok = _put_sms(client, org.admin, "twilio://AC123:secret@+15551234567/{phone}")
    assert ok.status_code == 200, ok.text
    assert _put_sms(client, org.admin, "json://sms.example.com/send?:to={phone}").status_code == 200
    for bad in (
        "json://169.254.169.254/latest?:to={phone}",
        "forms://[::1]/x?:to={phone}",
        "xml://localhost:25/{phone}",
        "ntfy://10.0.0.5/{phone}",  # a self-hosted scheme that is not json/form/xml
        "mailto://user:pw@example.com?to={phone}",
    ):
        refused = _put_sms(client, org.admin, bad)
        assert refused.status_code == 422, (bad, refused.text)
        assert refused.json()["errors"][0]["field"] == "notifications.sms_url"


def test_apprise_json_gateway_is_checked_when_sending() -> None:
    message = OutgoingMessage(to="+41790000000", subject="Hi", body="Your order")
    with Receiver() as receiver:
        url = f"json://gateway.example.test:{receiver.port}/hook?:to={{phone}}"
        refused = AppriseChannel("sms", url, Policy(resolver=lambda h, p: ["127.0.0.1"]))
        with pytest.raises(SendError, match="not a public address") as caught:
            refused.send(message)
        assert receiver.requests == []
        assert "Connection" not in str(caught.value)
        allowed = AppriseChannel(
            "sms",
            url,
            Policy(
                allowed_networks=(ipaddress.ip_network("127.0.0.1/32"),),
                resolver=lambda h, p: ["127.0.0.1"],
            ),
        )
        allowed.send(message)
        assert len(receiver.requests) == 1
        # A closed port: a generic error, not the library's connection message.
    closed = AppriseChannel(
        "sms",
        url,
        Policy(
            allowed_networks=(ipaddress.ip_network("127.0.0.1/32"),),
            resolver=lambda h, p: ["127.0.0.1"],
        ),
    )
    with pytest.raises(SendError) as generic:
        closed.send(message)
    assert "refused it or could not be reached" in str(generic.value)
    assert str(receiver.port) not in str(generic.value)
