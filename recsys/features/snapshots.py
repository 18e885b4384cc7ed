"""Point-in-time feature snapshots computed from interactions (pure pandas, no I/O).

A row is written for an entity at the end of every UTC day on which it had activity, holding the
cumulative values *as of that moment*, plus one row per entity at ``as_of`` (the build time). A
point-in-time join at time T therefore sees only interactions from days that ended by T: the
features of a training row never contain the interaction that is its label, nor anything later.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

DAY = pd.Timedelta(days=1)
FEATURE_COLUMNS = [
    "interaction_count",
    "mean_rating",
    "last_interaction_ts",
    "days_since_last_interaction",
    "first_interaction_ts",
]


def _cumulative(interactions: pd.DataFrame, key: str) -> pd.DataFrame:
    frame = interactions[[key, "rating", "occurred_at"]].copy()
    frame["event_timestamp"] = frame["occurred_at"].dt.floor("D") + DAY
    frame["rated"] = frame["rating"].notna().astype("int64")
    frame["rating_sum"] = frame["rating"].fillna(0.0)
    frame["ts"] = frame["occurred_at"].astype("int64") // 10**9
    daily = (
        frame.groupby([key, "event_timestamp"], sort=True)
        .agg(
            n=("ts", "size"),
            rated=("rated", "sum"),
            rating_sum=("rating_sum", "sum"),
            last=("ts", "max"),
            first=("ts", "min"),
        )  # fmt: skip
        .reset_index()
    )
    grouped = daily.groupby(key, sort=False)
    daily["interaction_count"] = grouped["n"].cumsum()
    rated = grouped["rated"].cumsum()
    daily["mean_rating"] = (grouped["rating_sum"].cumsum() / rated.replace(0, np.nan)).astype(float)
    daily["last_interaction_ts"] = grouped["last"].cummax()
    daily["first_interaction_ts"] = grouped["first"].cummin()
    snapshot_s = daily["event_timestamp"].astype("int64") // 10**9
    daily["days_since_last_interaction"] = (snapshot_s - daily["last_interaction_ts"]) / 86400.0
    return daily[[key, "event_timestamp", *FEATURE_COLUMNS]]


def _with_as_of(daily: pd.DataFrame, key: str, ids: pd.Index, as_of: pd.Timestamp) -> pd.DataFrame:
    """Append the state of every entity (also those without activity) at ``as_of``."""
    latest = daily.groupby(key, sort=False).tail(1).set_index(key).reindex(ids)
    latest.index.name = key
    latest = latest.reset_index()
    latest["event_timestamp"] = as_of
    latest["interaction_count"] = latest["interaction_count"].fillna(0).astype("int64")
    as_of_s = as_of.value // 10**9
    latest["days_since_last_interaction"] = (as_of_s - latest["last_interaction_ts"]) / 86400.0
    before = daily[daily["event_timestamp"] < as_of]
    out = pd.concat([before, latest[before.columns]], ignore_index=True)
    out["last_interaction_ts"] = out["last_interaction_ts"].astype("Int64")
    out["first_interaction_ts"] = out["first_interaction_ts"].astype("Int64")
    return out


def user_snapshots(
    interactions: pd.DataFrame,
    user_ids: pd.Index,
    as_of: datetime,
    items: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """With ``items`` (item_id, genres), also ``genre_counts``: the user's interactions so far
    per genre, as ``"Comedy:3|Drama:12"``, on every row."""
    as_of_ts = pd.Timestamp(as_of).tz_convert("UTC")
    interactions = interactions[interactions["occurred_at"] < as_of_ts]
    out = _with_as_of(_cumulative(interactions, "user_id"), "user_id", user_ids, as_of_ts)
    if items is not None:
        out["genre_counts"] = _genre_counts(interactions, items, out, as_of_ts)
    return out


def _genre_counts(
    interactions: pd.DataFrame, items: pd.DataFrame, rows: pd.DataFrame, as_of: pd.Timestamp
) -> list[str]:
    """For each (user_id, event_timestamp) row: genre counts of the user's interactions on days
    that ended by that time, and for the ``as_of`` row every interaction before ``as_of`` (the
    same point-in-time rule as the other columns)."""
    genres = items.set_index("item_id")["genres"]
    tagged = interactions[["user_id", "item_id", "occurred_at"]].assign(
        genre=interactions["item_id"].map(genres)
    )
    tagged = tagged.explode("genre").dropna(subset=["genre"])
    tagged = tagged[tagged["genre"] != ""]
    # The day still open at as_of counts in the as_of row, as in its interaction_count.
    tagged["day_end"] = (tagged["occurred_at"].dt.floor("D") + DAY).clip(upper=as_of)
    if tagged.empty:
        return [""] * len(rows)
    daily = tagged.groupby(["user_id", "day_end", "genre"]).size().unstack("genre", fill_value=0)
    cumulative = daily.groupby(level="user_id").cumsum().reset_index().sort_values("day_end")
    wanted = rows[["user_id", "event_timestamp"]].reset_index(names="row")
    merged = pd.merge_asof(
        wanted.sort_values("event_timestamp"),
        cumulative,
        left_on="event_timestamp",
        right_on="day_end",
        by="user_id",
    ).sort_values("row")
    names = list(daily.columns)
    counts = merged[names].fillna(0).to_numpy(dtype=np.int64)
    return ["|".join(f"{g}:{n}" for g, n in zip(names, row, strict=True) if n) for row in counts]


def item_snapshots(
    interactions: pd.DataFrame, items: pd.DataFrame, as_of: datetime
) -> pd.DataFrame:
    """``items`` has ``item_id`` and ``genres`` (list of str); genres go on every row."""
    as_of_ts = pd.Timestamp(as_of).tz_convert("UTC")
    interactions = interactions[interactions["occurred_at"] < as_of_ts]
    ids = pd.Index(items["item_id"])
    out = _with_as_of(_cumulative(interactions, "item_id"), "item_id", ids, as_of_ts)
    genres = pd.Series(["|".join(g) for g in items["genres"]], index=ids)
    out["genres"] = genres.reindex(out["item_id"]).fillna("").to_numpy()
    return out
