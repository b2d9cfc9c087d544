"""Alembic environment: runs on the engine the caller passes (see ``lastmile.db.migrate``)."""

from __future__ import annotations

from alembic import context

from lastmile.db.migrations.models import metadata

config = context.config
engine = config.attributes["engine"]

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    context.run_migrations()
