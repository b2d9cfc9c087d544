"""The password policy, checked offline: at least 10 characters, not the e-mail (nor its
name part), not one of 19,640 common passwords. No online breach lookup: the service must
work without reaching anyone, and must not send even a hash prefix of a password away.

The list ships as data: ``lastmile/data/passwords/common-passwords.txt.gz``, from Django's
wheel on PyPI under its BSD licence (see ``lastmile/data/README.md``)."""

from __future__ import annotations

import gzip
from functools import lru_cache
from importlib import resources

from lastmile.core.errors import FieldIssue, InputError

MIN_LENGTH = 10
MAX_LENGTH = 1000


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    data = resources.files("lastmile") / "data" / "passwords" / "common-passwords.txt.gz"
    with data.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip().lower() for line in lines if line.strip())


def problems(password: str, email: str) -> list[str]:
    """What is wrong with ``password`` for the account ``email`` (empty: acceptable)."""
    found = []
    if len(password) < MIN_LENGTH:
        found.append(f"must have at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        found.append(f"must have at most {MAX_LENGTH} characters")
    folded = password.strip().lower()
    address = email.strip().lower()
    if folded and folded in {address, address.split("@")[0]}:
        found.append("must not be your e-mail address")
    if folded in common_passwords():
        found.append("is one of the most common passwords; choose another")
    return found


def check(password: str, email: str, field: str = "password") -> None:
    """Raise :class:`InputError` naming ``field`` if the policy refuses ``password``."""
    found = problems(password, email)
    if found:
        raise InputError(
            issues=[FieldIssue(None, field, None, message) for message in found], source="password"
        )
