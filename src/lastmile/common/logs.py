"""Logging of every lastmile process: plain text for people, JSON lines for log collectors.

Each HTTP request gets an id (the caller's ``X-Request-ID`` if it sent a sane one, else a new
one); every log line written while the request runs carries it as ``request_id``, and the
response returns it, so a support question ("it failed at 10:02, id 3f2a...") finds its lines.
Background jobs log with the id of the request that was running when they were queued only
if they run in it; otherwise ``request_id`` is ``-``.
"""

from __future__ import annotations

import logging
import logging.config
import re
import uuid
from contextvars import ContextVar
from typing import Any, Literal

REQUEST_ID: ContextVar[str] = ContextVar("lastmile_request_id", default="-")
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def request_id_from(header: str | None) -> str:
    """The caller's request id if it is short and plain, else a fresh one (never trust a
    header to be safe to print: no spaces, quotes or newlines get into the logs)."""
    if header and _SANE_ID.match(header):
        return header
    return uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    """Puts the current request id on every record (``%(request_id)s``, JSON field)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s"


def config(fmt: Literal["text", "json"], level: str = "INFO") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` dictionary for lastmile, uvicorn and procrastinate.

    uvicorn's own access log is switched off by the caller: lastmile writes one access line
    per request itself (with the route template, duration and request id).
    """
    formatter: dict[str, Any] = (
        {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": JSON_FIELDS,
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            "timestamp": False,
        }
        if fmt == "json"
        else {"format": TEXT_FORMAT}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"lastmile": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "lastmile",
                "filters": ["request_id"],
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            "uvicorn": {"level": level, "handlers": ["stderr"], "propagate": False},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {"level": "WARNING"},
        },
        "root": {"level": level, "handlers": ["stderr"]},
    }


def configure(fmt: Literal["text", "json"], level: str = "INFO") -> None:
    """Set up logging of this process (``lastmile serve``, ``lastmile worker``)."""
    logging.config.dictConfig(config(fmt, level))
