"""Database engine, sessions and the declarative base shared by every domain's tables."""

from lastmile.db.base import Base, OrgScoped, UTCDateTime
from lastmile.db.engine import create_db_engine, migrate, session_factory

__all__ = ["Base", "OrgScoped", "UTCDateTime", "create_db_engine", "migrate", "session_factory"]
