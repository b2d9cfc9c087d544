"""The deployment test's fixtures: the PostgreSQL database of the service tests."""

from service.conftest import postgres_url

__all__ = ["postgres_url"]
