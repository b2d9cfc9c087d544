"""Names shown to customers."""

from __future__ import annotations


def first_name(name: str) -> str:
    """The first name only (customers never see a driver's full name; messages greet the
    customer by first name)."""
    parts = name.strip().split()
    return parts[0] if parts else ""
