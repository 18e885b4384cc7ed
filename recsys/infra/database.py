"""SQLAlchemy engines and sessions for the app database."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from recsys.infra.endpoints import Endpoints


def create_db_engine(endpoints: Endpoints, **kwargs: object) -> Engine:
    options: dict[str, object] = {
        "pool_pre_ping": True,
        "pool_size": 5,
        "max_overflow": 10,
        "pool_timeout": 5,
        # a Postgres that does not answer fails a connection in seconds, not minutes
        "connect_args": {"connect_timeout": 3},
    }
    options.update(kwargs)
    return create_engine(endpoints.sqlalchemy_url, **options)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
