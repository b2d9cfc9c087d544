"""Login rate limits (#13 items 5 and 6): atomic under parallel requests, per account and per
address separately, device cookies, and X-Forwarded-For only from trusted proxies."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request

from helpers.service import PASSWORD, make_org
from lastmile.auth.security import DEVICE_COOKIE
from lastmile.common.web import client_address
from lastmile.config import Settings


def _token(client: TestClient, email: str, password: str, **kwargs: object) -> httpx.Response:
    return client.post("/api/v1/auth/token", json={"email": email, "password": password}, **kwargs)


def test_parallel_wrong_passwords_check_at_most_the_limit(client: TestClient) -> None:
    make_org(client, "Florist")
    client.cookies.clear()
    with ThreadPoolExecutor(max_workers=10) as pool:
        codes = list(
            pool.map(
                lambda i: _token(client, "admin@florist.example", f"wrong-{i}").status_code,
                range(30),
            )
        )
    # Limit 5 (the default): exactly five passwords were checked, every other guess refused.
    assert codes.count(401) == 5, codes
    assert codes.count(429) == 25, codes


def test_failures_of_one_account_do_not_lock_out_another(client: TestClient) -> None:
    make_org(client, "Florist")
    client.cookies.clear()
    codes = [_token(client, "admin@florist.example", f"bad-{i}").status_code for i in range(6)]
    assert codes == [401] * 5 + [429]
    # Same address, another account, right password: not refused.
    assert _token(client, "dispatcher@florist.example", PASSWORD).status_code == 200
    # The locked account stays locked for a new device, right password or not.
    client.cookies.clear()
    assert _token(client, "admin@florist.example", PASSWORD).status_code == 429


def test_address_limit_spares_devices_that_logged_in_before(client: TestClient) -> None:
    make_org(client, "Florist")
    client.cookies.clear()
    ok = _token(client, "dispatcher@florist.example", PASSWORD)
    assert ok.status_code == 200
    device = ok.cookies.get(DEVICE_COOKIE)
    assert device
    client.cookies.clear()
    # 20 failures (the default per-address limit), spread so that no account reaches 5.
    for i in range(20):
        response = _token(client, f"guess-{i % 5}@florist.example", "wrong-password")
        assert response.status_code == 401, (i, response.text)
    # A new device at this address is now refused, even for a correct password...
    assert _token(client, "driver@florist.example", PASSWORD).status_code == 429
    # ...but the browser that logged in to this account before is not.
    client.cookies.set(DEVICE_COOKIE, device)
    assert _token(client, "dispatcher@florist.example", PASSWORD).status_code == 200
    # A device cookie only vouches for the accounts it logged in to, and only if signed.
    assert _token(client, "driver@florist.example", PASSWORD).status_code == 429
    client.cookies.clear()
    client.cookies.set(DEVICE_COOKIE, device[:-4] + "0000")
    assert _token(client, "dispatcher@florist.example", PASSWORD).status_code == 429


def test_a_known_device_is_limited_on_its_own(client: TestClient) -> None:
    make_org(client, "Florist")
    client.cookies.clear()
    assert _token(client, "admin@florist.example", PASSWORD).status_code == 200
    codes = [_token(client, "admin@florist.example", f"bad-{i}").status_code for i in range(6)]
    assert codes == [401] * 5 + [429]


def _request(peer: str, forwarded: list[str]) -> Request:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    return Request(
        {"type": "http", "method": "GET", "path": "/", "headers": headers, "client": (peer, 1)}
    )


def test_forwarded_for_is_read_only_from_trusted_proxies() -> None:
    plain = Settings(secret_key="x")
    # Without trusted proxies any peer's header is ignored (loopback included).
    assert client_address(_request("127.0.0.1", ["203.0.113.9"]), plain) == "127.0.0.1"
    proxied = Settings(secret_key="x", trusted_proxies=["10.0.0.0/8", "127.0.0.1"])
    assert client_address(_request("10.1.1.1", ["203.0.113.9"]), proxied) == "203.0.113.9"
    # A client's own (spoofed) entries come first; the hop our proxy appended counts.
    spoofed = _request("10.1.1.1", ["1.2.3.4, 203.0.113.9, 10.2.2.2"])
    assert client_address(spoofed, proxied) == "203.0.113.9"
    # A peer that is not a trusted proxy cannot set the header.
    assert client_address(_request("198.51.100.7", ["1.2.3.4"]), proxied) == "198.51.100.7"


def test_trusted_proxies_setting_refuses_garbage() -> None:
    with pytest.raises(ValueError, match="not an IP address"):
        Settings(secret_key="x", trusted_proxies=["proxy.example"])
