"""Domain errors: a machine-readable ``code`` and a message a person can act on.

The API maps them to problem+json; the CLI prints the message and exits non-zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class LastmileError(Exception):
    """Base class for every error the product raises on purpose."""

    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class FieldIssue:
    """One problem in an input file or payload: where it is and what is wrong."""

    row: int | None
    """Row as a spreadsheet shows it: the header is row 1, the first data row is row 2.
    ``None`` for whole-file issues."""
    field: str | None
    value: str | None
    message: str

    def describe(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.field is not None:
            where.append(f"column {self.field!r}")
        prefix = ", ".join(where)
        shown = f" (value {self.value!r})" if self.value is not None else ""
        return f"{prefix}: {self.message}{shown}" if prefix else f"{self.message}{shown}"


@dataclass
class InputError(LastmileError):
    """An input (CSV, JSON, instance file) that cannot be used as it is."""

    issues: list[FieldIssue] = field(default_factory=list)
    source: str = "input"
    code = "invalid_input"

    def __post_init__(self) -> None:
        lines = [issue.describe() for issue in self.issues[:50]]
        more = len(self.issues) - len(lines)
        if more > 0:
            lines.append(f"... and {more} more")
        LastmileError.__init__(self, f"{self.source}: " + "; ".join(lines))


class ModelError(LastmileError):
    """A problem that is inconsistent as a whole (unknown dimension, unpaired pickup...)."""

    code = "invalid_problem"


class NotFound(LastmileError):
    """Also used for rows of another organisation: their existence is not revealed."""

    code = "not_found"


class Conflict(LastmileError):
    code = "conflict"


class Forbidden(LastmileError):
    code = "forbidden"


class Unauthorized(LastmileError):
    code = "unauthorized"


class RateLimited(LastmileError):
    code = "rate_limited"

    def __init__(
        self, message: str, retry_after_s: int, *, limit: str | None = None, allowed: int = 0
    ) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.limit = limit
        """The limit reached (``orders_per_day``, ``api_requests_per_minute``), if it has a
        name the client can act on; the problem+json answer carries it and ``allowed``."""
        self.allowed = allowed


class IllegalTransition(LastmileError):
    """An order status change the lifecycle does not allow."""

    code = "illegal_transition"
