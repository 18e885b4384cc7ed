"""Reading the app database back into frames for features, training and reports."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import Engine, text

from recsys.data.schema import Dataset


def read_interactions(
    engine: Engine, *, since: datetime | None = None, until: datetime | None = None
) -> pd.DataFrame:
    """Interactions as (user_id, item_id, rating, occurred_at), ordered by time."""
    sql = "SELECT user_id, item_id, rating, occurred_at FROM interactions WHERE TRUE"
    params: dict[str, object] = {}
    if since is not None:
        sql += " AND occurred_at >= :since"
        params["since"] = since
    if until is not None:
        sql += " AND occurred_at < :until"
        params["until"] = until
    sql += " ORDER BY occurred_at, id"
    with engine.connect() as conn:
        frame = pd.read_sql_query(text(sql), conn, params=params)
    frame["occurred_at"] = pd.to_datetime(frame["occurred_at"], utc=True)
    frame["rating"] = frame["rating"].astype(float)
    return frame


def read_items(engine: Engine) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql_query(text("SELECT item_id, title, genres FROM items"), conn)


def read_app_dataset(
    engine: Engine, name: str = "app database", *, until: datetime | None = None
) -> Dataset:
    """The whole catalogue and every interaction (before ``until``), in the shape a dataset
    reader produces (for re-loading a copy elsewhere, e.g. to measure a ranker on a holdout)."""
    with engine.connect() as conn:
        users = pd.read_sql_query(text("SELECT user_id, attributes FROM users"), conn)
        items = pd.read_sql_query(
            text("SELECT item_id, title, genres, attributes FROM items"), conn
        )
    # NULL JSON or arrays would not survive the COPY back in; the columns default to empty.
    users["attributes"] = [a if isinstance(a, dict) else {} for a in users["attributes"]]
    items["genres"] = [list(g) if g is not None else [] for g in items["genres"]]
    items["attributes"] = [a if isinstance(a, dict) else {} for a in items["attributes"]]
    return Dataset(name, users, items, read_interactions(engine, until=until))
