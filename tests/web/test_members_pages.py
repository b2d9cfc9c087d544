"""Members and accounts in a real browser (#13 items 4 and 9): the owner invites a driver
from Settings, the driver opens the link in another browser and sets a password, the owner
resets it, the driver uses the reset link, and changes it on the Account page; then logs out
everywhere. Screenshots of each step go to ``test-artifacts/members/``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from helpers.browser import chromium
from helpers.live import serve_app
from helpers.service import PASSWORD, make_org, sqlite_settings
from lastmile.app import create_app

SHOTS = Path(__file__).parents[2] / "test-artifacts" / "members"
DRIVER = "ben@alpha.example"


@pytest.fixture(scope="module")
def app_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = sqlite_settings(tmp_path_factory.mktemp("members-data"))
    with TestClient(create_app(settings)) as client:
        yield client


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _log_in(page: Any, email: str, password: str) -> None:
    page.goto("/app/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("button.primary")
    page.wait_for_url("**/app/**")


def _link_from_prompt(page: Any, click: Any) -> str:
    """Click something that shows a one-time link in a prompt; return the link."""
    seen: list[str] = []

    def on_dialog(dialog: Any) -> None:
        if dialog.type == "prompt":
            seen.append(dialog.default_value)
        dialog.accept()

    page.on("dialog", on_dialog)
    with page.expect_navigation():
        click()
    page.remove_listener("dialog", on_dialog)
    assert seen, "no link was shown"
    # The link starts with the server's public URL (here the default); the test server
    # listens elsewhere, so follow its path.
    return urlsplit(seen[0]).path


def test_invite_reset_and_change_a_password_in_the_dashboard(app_client: TestClient) -> None:
    org = make_org(app_client, "Alpha")
    with serve_app(app_client.app) as url, chromium() as browser:
        owner = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=url)
        driver = browser.new_context(viewport={"width": 420, "height": 860}, base_url=url)
        page, phone = owner.new_page(), driver.new_page()
        problems: list[str] = []
        for p in (page, phone):
            p.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
        _log_in(page, "admin@alpha.example", PASSWORD)
        page.goto("/app/settings")
        form = page.locator("form[data-api='/api/v1/members']")
        form.locator("input[name=email]").fill(DRIVER)
        assert form.locator("select[name=role]").input_value() == "driver"
        link = _link_from_prompt(page, lambda: form.locator("button[type=submit]").click())
        assert "/app/invite/" in link
        assert DRIVER in page.locator("#invitations").inner_text()
        _shot(page, "1-invited")

        # The driver's phone: the link, a password, done.
        phone.goto(link)
        assert "Join Alpha" in phone.inner_text("main")
        phone.fill("input[name=name]", "Ben")
        phone.fill("input[name=password]", "ben drives the van")
        phone.fill("input[name=repeat_password]", "ben drives the van")
        _shot(phone, "2-set-password")
        phone.click("button.primary")
        assert "Your password is set" in phone.inner_text("main")
        token = app_client.post(
            "/api/v1/auth/token", json={"email": DRIVER, "password": "ben drives the van"}
        )
        assert token.status_code == 200 and token.json()["role"] == "driver"

        # The owner resets it: a new one-time link; the old password no longer counts.
        page.reload()
        row = page.locator("tr", has_text=DRIVER)
        reset = _link_from_prompt(page, lambda: row.locator("text=Reset password").click())
        _shot(page, "3-reset")
        phone.goto(reset)
        assert "Set a new password" in phone.inner_text("main")
        phone.fill("input[name=password]", "password123")
        phone.fill("input[name=repeat_password]", "password123")
        phone.click("button.primary")
        assert "common password" in phone.inner_text("#invite-error")
        _shot(phone, "4-weak-password")
        phone.fill("input[name=password]", "a new route every day")
        phone.fill("input[name=repeat_password]", "a new route every day")
        phone.click("button.primary")
        assert "Your password is set" in phone.inner_text("main")

        # The owner changes their own password on the Account page, then logs out everywhere.
        page.goto("/app/account")
        page.fill("input[name=current_password]", PASSWORD)
        page.fill("input[name=new_password]", "owner has a new one")
        page.fill("input[name=repeat_password]", "owner has a new one")
        page.click("text=Change password >> nth=-1")
        page.wait_for_url("**done=password")
        assert page.locator("#account-done").is_visible()
        _shot(page, "5-password-changed")
        assert app_client.get("/api/v1/auth/me", headers=org.admin).status_code == 401
        page.on("dialog", lambda dialog: dialog.accept())
        page.click("button:has-text('Log out everywhere')")
        page.wait_for_url("**/app/login")
        page.goto("/app/account")
        page.wait_for_url("**/app/login**")
        assert problems == []
        owner.close()
        driver.close()
