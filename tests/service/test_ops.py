"""Operations endpoints on SQLite and PostgreSQL: health, readiness, metrics, request ids."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from lastmile.app import create_app
from lastmile.config import Settings


def sample(client: TestClient, name: str, **labels: str) -> float:
    """The sum of the ``/metrics`` samples matching ``labels`` (0 when there is none yet):
    other tests of the session may have made series of the same route with other labels."""
    body = client.get("/metrics").text
    return sum(
        float(s.value)
        for family in text_string_to_metric_families(body)
        for s in family.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def test_healthz_and_readyz_answer_without_login(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {
        "database": "ok",
        "migrations": "ok",
        "queue": "ok",
        "roads": "ok",
    }


def test_readyz_names_a_database_behind_the_code(client: TestClient) -> None:
    engine = client.app.state.engine  # type: ignore[attr-defined]
    with engine.begin() as conn:
        (head,) = conn.execute(text("SELECT version_num FROM alembic_version")).one()
        conn.execute(text("UPDATE alembic_version SET version_num = '0004'"))
    try:
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert "lastmile admin migrate" in ready.json()["checks"]["migrations"]
        assert ready.json()["checks"]["database"] == "ok"
    finally:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :h"), {"h": head})


def test_requests_are_counted_by_route_template_and_status(client: TestClient) -> None:
    route = "/api/v1/orders/{order_id}"
    before = sample(client, "lastmile_http_requests_total", route=route, status="401")
    for oid in ("ord_a", "ord_b", "ord_c"):
        assert client.get(f"/api/v1/orders/{oid}").status_code == 401
    after = sample(client, "lastmile_http_requests_total", route=route, status="401")
    assert after - before == 3
    body = client.get("/metrics").text
    assert "ord_a" not in body  # raw paths never become labels
    count = sample(client, "lastmile_http_request_duration_seconds_count", route=route)
    assert count >= 3
    unmatched = sample(client, "lastmile_http_requests_total", route="unmatched", status="404")
    client.get("/no/such/page")
    assert sample(client, "lastmile_http_requests_total", route="unmatched") > unmatched


def test_request_id_is_echoed_or_made(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="lastmile.access"):
        mine = client.get("/api/v1/orders", headers={"X-Request-ID": "support-42"})
    assert mine.headers["X-Request-ID"] == "support-42"
    (line,) = [r for r in caplog.records if getattr(r, "path", "") == "/api/v1/orders"]
    assert line.status == 401 and line.route == "/api/v1/orders"  # type: ignore[attr-defined]
    assert line.client == "testclient"  # type: ignore[attr-defined]
    made = client.get("/healthz").headers["X-Request-ID"]
    assert len(made) == 32 and made != "support-42"
    # A header that could forge log lines is replaced, not copied.
    forged = client.get("/healthz", headers={"X-Request-ID": "x\tinjected line"})
    assert forged.headers["X-Request-ID"] != "x\tinjected line"


def test_json_log_lines_carry_the_request_id(tmp_path: object) -> None:
    import io
    import json

    from lastmile.common.logs import REQUEST_ID, config

    formatter_conf = config("json")["formatters"]["lastmile"]
    from pythonjsonlogger.json import JsonFormatter

    from lastmile.common.logs import RequestIdFilter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        JsonFormatter(
            formatter_conf["fmt"],
            rename_fields=formatter_conf["rename_fields"],
        )
    )
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("lastmile.test.json")
    logger.addHandler(handler)
    logger.propagate = False
    token = REQUEST_ID.set("req-7")
    try:
        logger.warning("stop %s late", "S1", extra={"route_id": "rte_1"})
    finally:
        REQUEST_ID.reset(token)
        logger.removeHandler(handler)
    line = json.loads(stream.getvalue())
    assert line["request_id"] == "req-7"
    assert line["message"] == "stop S1 late" and line["level"] == "WARNING"
    assert line["route_id"] == "rte_1" and "time" in line


def test_https_public_url_sets_hsts_and_secure_cookies(tmp_path: object) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'lastmile.db'}",
        data_dir=tmp_path,
        use_roads=False,
        jobs="inline",
        secret_key="s",
        public_url="https://deliveries.example.com/",
    )
    assert settings.public_url == "https://deliveries.example.com"
    with TestClient(create_app(settings)) as client:
        response = client.get("/healthz")
        assert response.headers["Strict-Transport-Security"].startswith("max-age=")
        from lastmile.auth import service as auth
        from lastmile.orgs import service as orgs
        from lastmile.orgs.models import Role

        with client.app.state.sessions() as session:  # type: ignore[attr-defined]
            org = orgs.create(session=session, name="Secure", timezone="UTC")
            user = auth.create_user(
                session=session, email="a@secure.test", password="a-secure-test-password"
            )
            orgs.add_member(session=session, org_id=org.id, user_id=user.id, role=Role.ADMIN)
        login = client.post(
            "/app/login",
            data={"email": "a@secure.test", "password": "a-secure-test-password"},
            follow_redirects=False,
        )
        cookie = login.headers["set-cookie"]
        assert "lastmile_session=" in cookie and "Secure" in cookie, cookie


def test_http_public_url_sends_no_hsts(client: TestClient) -> None:
    assert "Strict-Transport-Security" not in client.get("/healthz").headers
