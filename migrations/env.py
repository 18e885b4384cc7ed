"""Alembic environment: the database comes from recsys Settings, never from alembic.ini."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from recsys.db.models import Base

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    # `recsys db upgrade` hands over an open connection; plain `alembic` resolves Settings itself.
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return

    from recsys.config import get_settings
    from recsys.infra.database import create_db_engine
    from recsys.infra.services import resolve_endpoints

    engine = create_db_engine(resolve_endpoints(get_settings()))
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) mode is not supported: run against a database")
run_migrations_online()
