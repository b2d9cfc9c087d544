"""Routes are built when the app is created, never on a request thread.

FastAPI builds a route's validators inside ``warnings.catch_warnings()``, which swaps the
process-wide warning filters and so is not thread-safe. Built lazily on the first request, it
raced the road-loading thread (numba compiles inside ``catch_warnings`` too) and a warning
FastAPI meant to silence escaped: ``test_road_geometry_and_edit_with_the_road_engine`` failed
now and then with pydantic's ``UnsupportedFieldAttributeWarning`` for ``customer_id``.
"""

from __future__ import annotations

import threading
import warnings
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from helpers.service import sqlite_settings
from lastmile.app import create_app


def test_serving_requests_swaps_no_warning_filters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entered: list[str] = []
    real = warnings.catch_warnings

    class Recording(real):  # type: ignore[valid-type,misc]
        def __enter__(self) -> Any:
            entered.append(threading.current_thread().name)
            return super().__enter__()

    with TestClient(create_app(sqlite_settings(tmp_path))) as client:
        monkeypatch.setattr(warnings, "catch_warnings", Recording)
        # an unknown path walks past every router; the others reach routes with parameters
        for path in ("/no/such/page", "/api/v1/customers/c1", "/app/customers/c1", "/healthz"):
            assert client.get(path, follow_redirects=False).status_code < 500
    assert entered == [], "a request built routes (catch_warnings) on its own thread"
