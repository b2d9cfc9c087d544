"""The driver app (an installable PWA): its app shell, web manifest and service worker.

The app itself is plain ES modules and CSS in ``web/static/driver`` (served at
``/static/driver/...``); it talks to the driver API (``/api/v1/driver/...``) with a bearer
token. The service worker is served from ``/driver/sw.js`` with ``Service-Worker-Allowed:
/driver`` so that it can control the shell at ``/driver``; it precaches every file of the app
under a version that is a hash of their contents, so a changed file reaches phones on their
next start and an unchanged one is never downloaded twice.
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import lru_cache
from importlib import resources
from importlib.resources.abc import Traversable

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from lastmile.common.i18n import LANGUAGES, choose, words
from lastmile.drivers.texts import TEXT

router = APIRouter(tags=["driver app"], include_in_schema=False)

SCOPE = "/driver"
STATIC_URL = "/static/driver"
THEME = "#0b57d0"

# No inline script or style, nothing from another origin; blob: for photo previews.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "media-src 'self' blob:; connect-src 'self'; worker-src 'self'; manifest-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'; object-src 'none'"
)
NO_CACHE = {"Cache-Control": "no-cache"}


def _static_dir() -> Traversable:
    return resources.files("lastmile.web").joinpath("static", "driver")


def _template(name: str) -> str:
    return resources.files("lastmile.web").joinpath("templates", "driver", name).read_text("utf-8")


@lru_cache(maxsize=1)
def _assets() -> tuple[str, tuple[str, ...]]:
    """(version, URLs of the app's static files): the version hashes every file and template."""
    digest = hashlib.sha256()
    names = sorted(
        entry.name
        for entry in _static_dir().iterdir()
        if entry.is_file() and not entry.name.startswith(".")
    )
    for name in names:
        digest.update(name.encode() + b"\0" + _static_dir().joinpath(name).read_bytes())
    for name in ("index.html", "sw.js"):
        digest.update(name.encode() + b"\0" + _template(name).encode())
    digest.update(json.dumps(TEXT, sort_keys=True).encode())
    return digest.hexdigest()[:16], tuple(f"{STATIC_URL}/{name}" for name in names)


def _render(template: str, values: dict[str, str]) -> str:
    return re.sub(r"@@(\w+)@@", lambda m: values[m.group(1)], template)


def _html_escape(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


@router.get(SCOPE, response_class=HTMLResponse)
def driver_app() -> HTMLResponse:
    """The app shell; everything else is drawn by /static/driver/app.js."""
    version, _ = _assets()
    html = _render(
        _template("index.html"),
        {
            "version": _html_escape(version),
            "static": STATIC_URL,
            "scope": SCOPE,
            "theme": THEME,
        },
    )
    headers = {**NO_CACHE, "Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff"}
    return HTMLResponse(html, headers=headers)


@router.get(SCOPE + "/", response_class=RedirectResponse)
def driver_app_slash() -> RedirectResponse:
    """One address for the app, so that its offline copy is found under one key."""
    return RedirectResponse(SCOPE, status_code=308)


@router.get(SCOPE + "/manifest.webmanifest")
def manifest() -> Response:
    """Web app manifest: what a phone needs to install the app on its home screen."""
    body = {
        "id": SCOPE,
        "name": "lastmile driver",
        "short_name": "Driver",
        "description": "Today's route, proof of delivery and GPS sharing for lastmile drivers.",
        "lang": "en",
        "start_url": SCOPE,
        "scope": SCOPE,
        "display": "standalone",
        "orientation": "portrait",
        "background_color": "#ffffff",
        "theme_color": THEME,
        "icons": [
            {
                "src": f"{STATIC_URL}/icon.svg",
                "sizes": "any",
                "type": "image/svg+xml",
                "purpose": "any",
            },
            {
                "src": f"{STATIC_URL}/icon-maskable.svg",
                "sizes": "any",
                "type": "image/svg+xml",
                "purpose": "maskable",
            },
        ],
    }
    return Response(
        json.dumps(body, indent=2), media_type="application/manifest+json", headers=NO_CACHE
    )


@router.get(SCOPE + "/texts/{language}.json")
def texts(language: str) -> Response:
    """The app's words in ``language`` (English for one lastmile does not speak), public:
    the same for every organisation, and needed on the login screen."""
    chosen = choose(language)
    body = {"language": chosen, "words": words(TEXT, chosen)}
    return Response(
        json.dumps(body, ensure_ascii=False), media_type="application/json", headers=NO_CACHE
    )


@router.get(SCOPE + "/sw.js")
def service_worker() -> Response:
    """The service worker: precaches the shell and the app's files, keeps the last route."""
    version, urls = _assets()
    texts = [f"{SCOPE}/texts/{language}.json" for language in LANGUAGES]
    shell = [SCOPE, SCOPE + "/manifest.webmanifest", *texts, *urls]
    script = _render(
        _template("sw.js"),
        {"version": json.dumps(version), "shell": json.dumps(shell), "scope": json.dumps(SCOPE)},
    )
    headers = {**NO_CACHE, "Service-Worker-Allowed": SCOPE}
    return Response(script, media_type="text/javascript", headers=headers)
