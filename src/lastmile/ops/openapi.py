"""The OpenAPI documents: the public one gets the problem answers every route can give, and
an unpublished one describes the dashboard's JSON routes and the customer tracking routes.

The public ``/openapi.json`` lists the routes an integrator calls. FastAPI documents only
the 200 and the 422 of request validation, but every route also answers problem+json 401,
403, 404, 409, 413 and 429 (the error handlers of ``common.web``); they are added here, so a
client (and the fuzz test's status-code and response-schema checks) knows every answer.

The dashboard's JSON routes (``/app/api/...``) and the tracking page's routes (``/t/...``)
are not part of the public API (``include_in_schema=False``: they change with the pages), yet
they take input from browsers, including strangers' for ``/t/``. :func:`private_openapi`
describes them from the same route declarations, for the fuzz test; it is not served.
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import BaseRoute

PRIVATE_PREFIXES = ("/app/api/", "/t/")
"""Routes described by :func:`private_openapi`."""

PROBLEM = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
    },
}
"""RFC 9457 problem+json, as ``common.web.problem`` writes it (more members may follow)."""

_ANSWERS = {
    "400": "The body could not be read (malformed JSON or multipart)",
    "401": "Not logged in, or the token or key is not valid",
    "403": "The caller's role may not do this",
    "404": "No such thing in the caller's organisation",
    "409": "The thing is in a state that does not allow this",
    "413": "The body is larger than this route takes",
    "422": "Invalid input: the fields named in errors",
    "429": "Too many requests: wait for Retry-After seconds",
}


def with_problem_answers(spec: dict[str, Any]) -> dict[str, Any]:
    """``spec`` with the problem+json answers of :data:`_ANSWERS` on every operation (the
    words an operation documents itself are kept; the body is always problem+json)."""
    content = {"application/problem+json": {"schema": PROBLEM}}
    for path in spec.get("paths", {}).values():
        for operation in path.values():
            answers = operation.setdefault("responses", {})
            for status, words in _ANSWERS.items():
                answer = answers.setdefault(status, {"description": words})
                if status == "422" or "content" not in answer:  # FastAPI's 422 is not ours
                    answer["content"] = content
    return spec


def install(app: FastAPI) -> None:
    """Serve the public OpenAPI with the problem answers added."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                routes=app.routes,
            )
            app.openapi_schema = with_problem_answers(spec)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def private_openapi(app: FastAPI) -> dict[str, Any]:
    """An OpenAPI document of the dashboard's JSON routes and the tracking routes."""
    routes: list[BaseRoute] = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        path = context.path_format or ""
        if isinstance(route, APIRoute) and path.startswith(PRIVATE_PREFIXES):
            described = copy.copy(route)  # these routers have no prefix: the path is whole
            described.include_in_schema = True
            routes.append(described)
    spec = get_openapi(
        title=f"{app.title} (dashboard and tracking)", version=app.version, routes=routes
    )
    spec = with_problem_answers(spec)
    for path, operations in spec["paths"].items():
        if not path.startswith("/t/"):
            continue
        page: dict[str, Any] = {"text/html": {}, "application/json": {}}
        page |= _IMAGES if "/pod/" in path else {}
        for operation in operations.values():  # the customer's page answers HTML or JSON
            for answer in operation["responses"].values():
                answer["content"] = answer.get("content", {}) | page
    return spec


_IMAGES: dict[str, Any] = {"image/jpeg": {}, "image/png": {}, "image/webp": {}}
