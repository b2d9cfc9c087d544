"""Debian's chromium through Playwright, the one way every browser test starts it.

Never a downloaded browser: ``executable_path`` points at the system chromium
(``LASTMILE_TEST_CHROMIUM`` overrides). Without it the browser tests are skipped with a
message, except in CI (``CI=true``), where that is a failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("LASTMILE_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


@contextmanager
def chromium(extra_args: Sequence[str] = ()) -> Iterator[Any]:
    """A headless chromium browser, closed afterwards."""
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"chromium not found at {CHROMIUM} (required in CI)")
        pytest.skip(f"chromium not found at {CHROMIUM}: browser tests skipped")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *extra_args], headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def watched_page(app: Any, width: int = 1366, height: int = 900) -> Iterator[Any]:
    """A page of ``app`` served on a free port, in chromium, whose ``problems`` list collects
    uncaught page errors and console errors (tests assert it stays empty)."""
    from helpers.live import serve_app

    with serve_app(app) as url, chromium() as browser:
        context = browser.new_context(viewport={"width": width, "height": height}, base_url=url)
        page = context.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.problems = problems
        try:
            yield page
        finally:
            context.close()
