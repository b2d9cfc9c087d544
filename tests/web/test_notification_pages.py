"""Customer messages set up in a real browser (issue 14, item 9): e-mail on with a check of the
server's mail settings against a real SMTP server on loopback (aiosmtpd, as in the
notification tests), an SMS provider URL refused by the outbound policy and then stored
write-only (never shown again, kept when the form is saved without it), which messages and
quiet hours, a template edited with a preview, "send a test" to a typed address (it arrives
at the SMTP server), and the message log with the test, a failure in words and times in the
organisation's zone (the browser runs in another one).

Screenshots go to ``test-artifacts/notifications/``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from helpers.browser import chromium
from helpers.live import Receiver, free_port, serve_app
from helpers.mail import Inbox
from helpers.service import PASSWORD, OrgUsers, make_org, sqlite_settings
from lastmile.app import create_app
from lastmile.notifications.models import Notification
from lastmile.orgs.models import Organisation

SHOTS = Path(__file__).parents[2] / "test-artifacts" / "notifications"
TOKEN = "s3cr3t-auth-token"
SMS_URL = f"twilio://AC0123456789:{TOKEN}@+15551234567/{{phone}}"


@pytest.fixture(scope="module")
def inbox() -> Iterator[Inbox]:
    from aiosmtpd.controller import Controller

    box = Inbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("LASTMILE_SMTP_HOST", "127.0.0.1")
        env.setenv("LASTMILE_SMTP_PORT", str(port))
        env.setenv("LASTMILE_SMTP_TLS", "none")
        env.setenv("LASTMILE_SMTP_FROM", "Blumen Meier <shop@blumen.example>")
        env.setenv("LASTMILE_PUBLIC_URL", "https://track.blumen.example")
        try:
            yield box
        finally:
            controller.stop()


@pytest.fixture(scope="module")
def app_client(inbox: Inbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = sqlite_settings(tmp_path_factory.mktemp("notify-pages"))
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture(scope="module")
def live_url(app_client: TestClient) -> Iterator[str]:
    with serve_app(app_client.app) as url:
        yield url


@pytest.fixture(scope="module")
def page(live_url: str) -> Iterator[Any]:
    with chromium() as browser:
        context = browser.new_context(
            viewport={"width": 1280, "height": 900},
            base_url=live_url,
            timezone_id="America/New_York",
        )
        page = context.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
        page.on(
            "console",
            lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
        )
        page.problems = problems
        yield page
        context.close()


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _stored(client: TestClient, org: OrgUsers) -> dict[str, Any]:
    """What the database holds (unmasked), read beside the app."""
    sessions: sessionmaker[Session] = client.app.state.sessions  # type: ignore[attr-defined]
    with sessions() as session:
        row = session.get(Organisation, org.org_id)
        assert row is not None
        notifications: dict[str, Any] = (row.settings or {}).get("notifications", {})
        return notifications


def test_owner_sets_up_customer_messages(page: Any, app_client: TestClient, inbox: Inbox) -> None:
    org = make_org(app_client, "Blumen Meier")
    page.goto("/app/settings")
    page.fill("#email", "admin@blumen-meier.example")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/app/settings")
    page.click("#more-settings a[href='/app/settings/notifications']")
    page.wait_for_url("**/app/settings/notifications")
    assert "127.0.0.1" in page.inner_text("#mail-server")
    page.wait_for_selector("#t-subject")  # the template editor loads by itself

    # --- the mail server answers (a real SMTP server)
    page.click("#check-mail")
    page.wait_for_selector("#mail-answer .done")
    assert "answers" in page.inner_text("#mail-answer")

    # --- an SMS gateway on a private address is refused, in words; nothing is saved
    page.check("#email-on")
    page.fill("#sms-url", "json://192.168.1.20/sms?to={phone}")  # tests allow only 127/8
    page.click("#channels-save")
    page.wait_for_selector("#channels-answer .problem")
    assert "sms url" in page.inner_text("#channels-answer").lower()
    _shot(page, "01-sms-url-refused")
    assert _stored(app_client, org).get("email") is not True

    # --- a provider URL is stored, then never shown again
    page.fill("#sms-url", SMS_URL)
    page.uncheck("#kind-delayed")
    page.fill("#quiet-start", "21:00")
    page.fill("#quiet-end", "07:00")
    page.fill("#monthly-cap", "25")
    page.click("#channels-save")
    page.wait_for_selector("#channels-answer .done")
    assert "E-mail, SMS" in page.inner_text("#channels-answer")
    stored = _stored(app_client, org)
    assert stored["sms_url"] == SMS_URL and stored["email"] is True
    assert "delayed" not in stored["kinds"] and stored["monthly_cap"] == 25
    assert stored["quiet_hours"] == {"start": "21:00", "end": "07:00"}
    page.reload()
    page.wait_for_selector("#t-subject")
    assert TOKEN not in page.content()
    assert "twilio://********" in page.inner_text("#sms-stored")
    assert page.input_value("#sms-url") == ""
    _shot(page, "02-channels-saved")
    # saving again without typing the URL keeps it
    page.fill("#monthly-cap", "30")
    page.click("#channels-save")
    page.wait_for_selector("#channels-answer .done")
    stored = _stored(app_client, org)
    assert stored["sms_url"] == SMS_URL and stored["monthly_cap"] == 30

    # --- a template edited with a preview; a typo is refused with its line
    page.select_option("#template-kind", "delivered")
    page.wait_for_function("document.getElementById('t-subject').value.includes('arrived')")
    page.fill("#t-subject", "{{ name }}, your flowers from {{ org }} are there")
    page.click("#t-preview")
    page.wait_for_selector("#preview-subject")
    assert page.inner_text("#preview-subject") == "Erika, your flowers from Blumen Meier are there"
    assert "delivered" in page.inner_text("#preview-body")
    page.fill("#t-text", "{{ org }}: delivered {{ name")
    page.click("#t-preview")
    page.wait_for_selector("#template-answer .problem")
    assert "not a valid template" in page.inner_text("#template-answer")
    page.fill("#t-text", "{{ org }}: your flowers are there, {{ name }}!")
    page.click("#t-save")
    page.wait_for_selector("#template-answer .done")
    assert page.inner_text("#preview-text") == "Blumen Meier: your flowers are there, Erika!"
    _shot(page, "03-template-preview")
    own = _stored(app_client, org)["templates"]["en"]["delivered"]
    assert own["subject"] == "{{ name }}, your flowers from {{ org }} are there"

    # --- send a test to a typed address: it reaches the SMTP server
    page.select_option("#test-channel", "email")
    page.fill("#test-to", "anna@blumen.example")
    page.select_option("#test-kind", "delivered")
    page.click("#test-send")
    page.wait_for_selector("#test-answer .done")
    assert "Sent to anna@blumen.example" in page.inner_text("#test-answer")
    (mail,) = inbox.to("anna@blumen.example")
    assert mail["Subject"] == "[Test] Erika, your flowers from Blumen Meier are there"
    # a channel that is not set up: not sent, said in words, logged
    page.select_option("#test-channel", "chat")
    page.fill("#test-to", "+41 79 555 12 34")
    page.click("#test-send")
    page.wait_for_selector("#test-answer .problem")
    assert "no chat provider is set up" in page.inner_text("#test-answer")
    page.fill("#test-to", "not an address")
    page.select_option("#test-channel", "email")
    page.click("#test-send")
    page.wait_for_function(
        "document.getElementById('test-answer').textContent.includes('not an e-mail address')"
    )
    # a chat gateway of the shop's own (json://, on loopback, which the tests' outbound
    # policy allows): the test arrives there in apprise's documented JSON
    with Receiver() as gateway:
        page.fill("#chat-url", gateway.url.replace("http://", "json://") + "?:to={phone}")
        page.click("#channels-save")
        page.wait_for_function(
            "document.getElementById('channels-answer').textContent.includes('Chat')"
        )
        page.select_option("#test-channel", "chat")
        page.fill("#test-to", "+41 79 555 12 34")
        page.select_option("#test-kind", "delivered")
        page.click("#test-send")
        page.wait_for_function(
            "document.getElementById('test-answer').textContent.includes('Sent to +41')"
        )
        gateway.wait_for(1)
        ((_, raw),) = gateway.requests
        assert json.loads(raw)["message"] == "Blumen Meier: your flowers are there, Erika!"
    _shot(page, "04-test-sent")

    # --- the message log: both tests, the failure in words, times in the org's zone
    page.click("header nav a[href='/app/messages']")
    page.wait_for_url("**/app/messages")
    rows = page.locator("#messages tbody tr[data-id]")
    assert rows.count() == 3
    sessions: sessionmaker[Session] = app_client.app.state.sessions  # type: ignore[attr-defined]
    with sessions() as session:
        sent = (
            session.query(Notification)
            .filter_by(org_id=org.org_id, status="sent", channel="email")
            .one()
        )
        assert sent.sent_at is not None
        when = sent.sent_at.replace(tzinfo=dt.UTC).astimezone(ZoneInfo("Europe/Vaduz"))
    sent_row = page.locator(f"#messages tr[data-id='{sent.id}']").inner_text()
    assert when.strftime("%Y-%m-%d %H:%M") in sent_row and "anna@blumen.example" in sent_row
    assert "Test message" in sent_row and "sent" in sent_row
    failed_row = page.locator("#messages tr.row-failed").inner_text()
    assert "not sent" in failed_row and "no chat provider is set up" in failed_row
    page.select_option("#messages-filter select[name=status]", "failed")
    page.wait_for_url("**/app/messages?status=failed*")
    assert page.locator("#messages tbody tr[data-id]").count() == 1
    _shot(page, "05-message-log")
    assert page.problems == []


def test_dispatchers_read_but_cannot_change(app_client: TestClient) -> None:
    org = make_org(app_client, "Read Only Shop")
    r = app_client.post(
        "/app/settings/notifications",
        data={"email": "1"},
        headers=org.dispatcher,
    )
    assert r.status_code == 403
    r = app_client.post(
        "/app/settings/notifications/test",
        data={"channel": "email", "to": "x@example.com"},
        headers=org.dispatcher,
    )
    assert r.status_code == 403
    r = app_client.post(
        "/app/settings/notifications/test",
        data={"channel": "email", "to": "x@example.com"},
        headers=org.admin,
    )
    assert r.status_code == 200 and "Sent to x@example.com" in r.text
    editor = app_client.get(
        "/app/settings/notifications/template?kind=failed&language=de", headers=org.dispatcher
    )
    assert editor.status_code == 200 and "wir konnten heute nicht zustellen" in editor.text
    assert 'id="t-preview"' in editor.text and 'id="t-save"' not in editor.text
