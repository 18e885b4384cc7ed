"""Fresh user features at event time: recomputed from Postgres, pushed to the online store.

`POST /v1/events` stores the events, then calls :func:`push_user_features` for the users they
touch, so the next recommendation for them reads their new activity and taste. The values follow
the definitions of the batch snapshots (:mod:`recsys.features.snapshots`): counts and times over
every interaction so far, genre counts as ``"Comedy:3|Drama:12"``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from sqlalchemy import Engine, bindparam, text

from recsys.features.snapshots import FEATURE_COLUMNS

PUSH_SOURCE = "user_features_push"


def current_user_rows(
    interactions: pd.DataFrame, items: pd.DataFrame, user_ids: Iterable[str], now: datetime
) -> pd.DataFrame:
    """One row per user: its state over every interaction before ``now``."""
    ids = pd.Index(sorted(set(map(str, user_ids))), name="user_id")
    past = interactions[interactions["occurred_at"] < pd.Timestamp(now)]
    seconds = past["occurred_at"].astype("int64") // 10**9
    grouped = past.assign(ts=seconds).groupby("user_id")
    rows = pd.DataFrame(
        {
            "interaction_count": grouped.size(),
            "mean_rating": grouped["rating"].mean(),
            "last_interaction_ts": grouped["ts"].max(),
            "first_interaction_ts": grouped["ts"].min(),
        }
    ).reindex(ids)
    rows["interaction_count"] = rows["interaction_count"].fillna(0).astype("int64")
    rows["days_since_last_interaction"] = (
        pd.Timestamp(now).timestamp() - rows["last_interaction_ts"]
    ) / 86400.0
    for column in ("last_interaction_ts", "first_interaction_ts"):
        rows[column] = rows[column].astype("Int64")
    genres = items.set_index("item_id")["genres"]
    tagged = past[["user_id", "item_id"]].assign(genre=past["item_id"].map(genres))
    tagged = tagged.explode("genre").dropna(subset=["genre"])
    counts = tagged[tagged["genre"] != ""].groupby(["user_id", "genre"]).size()
    taste = {
        user: "|".join(f"{g}:{n}" for g, n in sorted(per_user.droplevel(0).items()) if n)
        for user, per_user in counts.groupby(level="user_id")
    }
    rows["genre_counts"] = [taste.get(user, "") for user in rows.index]
    rows = rows.reset_index()
    stamp = pd.Timestamp(now).tz_convert("UTC")
    rows.insert(1, "event_timestamp", stamp)
    rows.insert(2, "created_at", stamp)
    return rows[["user_id", "event_timestamp", "created_at", *FEATURE_COLUMNS, "genre_counts"]]


def push_user_features(
    store,  # feast.FeatureStore
    engine: Engine,
    user_ids: Iterable[str],
    now: datetime | None = None,
) -> int:
    """Recompute the users' features from Postgres and push them to the online store."""
    from feast.data_source import PushMode

    ids = sorted(set(map(str, user_ids)))
    if not ids:
        return 0
    now = now or datetime.now(UTC)
    with engine.connect() as conn:
        interactions = pd.read_sql_query(
            text(
                "SELECT user_id, item_id, rating, occurred_at FROM interactions "
                "WHERE user_id IN :ids"
            ).bindparams(bindparam("ids", expanding=True)),
            conn,
            params={"ids": ids},
        )
        item_ids = sorted(set(interactions["item_id"]))
        items = pd.read_sql_query(
            text("SELECT item_id, genres FROM items WHERE item_id IN :ids").bindparams(
                bindparam("ids", expanding=True)
            ),
            conn,
            params={"ids": item_ids or [""]},
        )
    interactions["occurred_at"] = pd.to_datetime(interactions["occurred_at"], utc=True)
    interactions["rating"] = interactions["rating"].astype(np.float64)
    rows = current_user_rows(interactions, items, ids, now)
    store.push(PUSH_SOURCE, rows, to=PushMode.ONLINE)
    return len(rows)
