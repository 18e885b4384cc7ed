"""`recsys features build`: interactions in Postgres → point-in-time feature tables in Postgres."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal, get_args

import pandas as pd
from sqlalchemy import Engine

from recsys.data.queries import read_interactions, read_items
from recsys.features.snapshots import FEATURE_COLUMNS, item_snapshots, user_snapshots

FeatureEngine = Literal["pandas", "spark"]
ENGINES: tuple[str, ...] = get_args(FeatureEngine)


def _copy_frame(cur, table: str, frame: pd.DataFrame, text_columns: tuple[str, ...] = ()) -> None:  # type: ignore[no-untyped-def]
    columns = ", ".join(frame.columns)
    # In CSV an empty field is NULL; text columns keep their empty strings.
    not_null = f", FORCE_NOT_NULL ({', '.join(text_columns)})" if text_columns else ""
    # Timestamps keep their microseconds: the snapshot rows are stamped with the build time, and
    # one cut to the second can fall before a materialisation that ended earlier in that second,
    # which `materialize-incremental` would then never pick up.
    with cur.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT csv{not_null})") as copy:
        for start in range(0, len(frame), 50_000):
            copy.write(
                frame.iloc[start : start + 50_000].to_csv(
                    header=False, index=False, date_format="%Y-%m-%d %H:%M:%S.%f+00"
                )
            )


def compute_feature_frames(
    interactions: pd.DataFrame,
    items: pd.DataFrame,
    user_ids: pd.Index,
    as_of: datetime,
    compute: FeatureEngine = "pandas",
    spark_master: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(user rows, item rows) from either engine: the same rows, columns and dtypes."""
    if compute == "pandas":
        return (
            user_snapshots(interactions, user_ids, as_of, items),
            item_snapshots(interactions, items, as_of),
        )
    if compute == "spark":
        from recsys.features.spark_job import feature_frames, spark_session

        with spark_session(spark_master) as spark:
            return feature_frames(spark, interactions, items, user_ids, as_of)
    raise ValueError(f"unknown feature engine {compute!r}: expected one of {ENGINES}")


def build_feature_tables(
    engine: Engine,
    as_of: datetime | None = None,
    *,
    compute: FeatureEngine = "pandas",
    spark_master: str | None = None,
) -> dict[str, int]:
    """Recompute both feature tables from all interactions, replacing them in one transaction.

    ``compute`` picks the engine ("spark": PySpark on ``spark_master``, default
    RECSYS_SPARK_MASTER, or the already active session); the tables written are the same.
    """
    if compute == "spark":
        from recsys.features.spark_job import require_pyspark

        require_pyspark()  # before reading anything
    as_of = as_of or datetime.now(UTC)
    if as_of.tzinfo is None:  # a time without a zone is UTC, as everywhere in the project
        as_of = as_of.replace(tzinfo=UTC)
    interactions = read_interactions(engine)
    items = read_items(engine)
    with engine.connect() as conn:
        user_ids = pd.Index(pd.read_sql_query("SELECT user_id FROM users", conn)["user_id"])
    users, item_rows = compute_feature_frames(
        interactions, items, user_ids, as_of, compute, spark_master
    )
    _replace_tables(engine, users, item_rows)
    return {"user_feature_rows": len(users), "item_feature_rows": len(item_rows)}


def _replace_tables(engine: Engine, users: pd.DataFrame, item_rows: pd.DataFrame) -> None:
    created = pd.Timestamp(datetime.now(UTC))
    users.insert(2, "created_at", created)
    item_rows.insert(2, "created_at", created)

    raw = engine.raw_connection()
    try:
        conn = raw.driver_connection
        with conn.transaction(), conn.cursor() as cur:
            cur.execute("TRUNCATE user_features, item_features")
            user_columns = [
                "user_id", "event_timestamp", "created_at", *FEATURE_COLUMNS, "genre_counts",
            ]  # fmt: skip
            _copy_frame(cur, "user_features", users[user_columns], text_columns=("genre_counts",))
            item_columns = ["item_id", "event_timestamp", "created_at", *FEATURE_COLUMNS, "genres"]
            _copy_frame(cur, "item_features", item_rows[item_columns], text_columns=("genres",))
        conn.commit()
    finally:
        raw.close()
