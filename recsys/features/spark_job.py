"""The point-in-time feature tables computed with PySpark: the same rows and values as
:mod:`recsys.features.snapshots` (held equal by tests/features/test_spark_job.py).

Inputs arrive as pandas frames (``read_interactions`` / ``read_items``) and become Spark frames in
:func:`feature_frames`: no JDBC driver jar is assumed (only PyPI packages are installed), and
the app database is small enough to read through psycopg. At scale the ``createDataFrame`` calls
are where a real source plugs in: ``spark.read.parquet(<lake path>)`` of the interaction log, or
``spark.read.jdbc(url, "interactions", ...)`` with the driver jar on ``spark.jars``. Everything
after them is Spark SQL (windows for the cumulative values) and runs on any master.

pyspark is optional (``pip install -e '.[spark]'``) and imported only here, only when used.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING

import pandas as pd

from recsys.features.snapshots import FEATURE_COLUMNS

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

INSTALL_HINT = "the spark engine needs pyspark: pip install -e '.[spark]'"


class SparkUnavailableError(RuntimeError):
    """pyspark is not installed."""


def require_pyspark():  # type: ignore[no-untyped-def]
    """``pyspark.sql``, or :class:`SparkUnavailableError` saying how to install it."""
    try:
        import pyspark.sql
    except ImportError as exc:
        raise SparkUnavailableError(INSTALL_HINT) from exc
    return pyspark.sql


@contextmanager
def spark_session(master: str | None = None) -> Iterator[SparkSession]:
    """The active session if there is one (tests share one; it is theirs to stop), else a new one
    on ``master`` (default RECSYS_SPARK_MASTER, driver heap RECSYS_SPARK_DRIVER_MEMORY), stopped
    on exit."""
    sql = require_pyspark()
    active = sql.SparkSession.getActiveSession()
    if active is not None:
        yield active
        return
    from recsys.config import get_settings

    settings = get_settings()
    master = master or settings.spark_master
    builder = (
        sql.SparkSession.builder.appName("recsys-features")
        .master(master)
        # Set before the JVM starts; 1g (Spark's default) runs out on a million interactions.
        .config("spark.driver.memory", settings.spark_driver_memory)
        # Day boundaries are UTC days, as in the pandas path, whatever the machine's zone.
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
    )
    local = master.startswith("local")
    if local:
        # One machine: no hostname lookup (it can hang where the name does not resolve).
        builder = builder.config("spark.driver.host", "127.0.0.1").config(
            "spark.driver.bindAddress", "127.0.0.1"
        )
    spark = builder.getOrCreate()
    if local:
        # One shuffle partition per core instead of 200 tiny tasks (most of the run time on data
        # this size). On a cluster this is left to spark-defaults.conf.
        parallelism = spark.sparkContext.defaultParallelism
        spark.conf.set("spark.sql.shuffle.partitions", str(parallelism))
    try:
        yield spark
    finally:
        spark.stop()


def feature_frames(
    spark: SparkSession,
    interactions: pd.DataFrame,
    items: pd.DataFrame,
    user_ids: pd.Index,
    as_of: datetime,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(user rows, item rows) as ``user_snapshots(..., items)`` and ``item_snapshots`` give them:
    the same columns and dtypes; rows ordered by entity and time."""
    from pyspark.sql import functions as F

    as_of_ts = pd.Timestamp(as_of).tz_convert("UTC")
    # The source frames; at scale, spark.read.parquet/jdbc (see the module docstring).
    events = spark.createDataFrame(
        interactions[["user_id", "item_id", "rating", "occurred_at"]],
        schema="user_id string, item_id string, rating double, occurred_at timestamp",
    )
    catalogue = spark.createDataFrame(
        items[["item_id", "genres"]], schema="item_id string, genres array<string>"
    )
    users = spark.createDataFrame(
        pd.DataFrame({"user_id": user_ids.astype(str)}), schema="user_id string"
    )

    as_of_lit = F.lit(as_of_ts.to_pydatetime())
    as_of_s = as_of_ts.value // 10**9
    events = (
        events.where(F.col("occurred_at") < as_of_lit)
        .withColumn("event_timestamp", _day_end(F.col("occurred_at")))
        .withColumn("ts", _floor_seconds(F.col("occurred_at")))
    )
    # Left join: interactions with items missing from the catalogue still count (no genres).
    tagged = events.join(catalogue, "item_id", "left")
    names = _genre_names(catalogue)
    # Per active day, interactions per genre (an item listing a genre twice counts twice, as an
    # explode does); the running sums of these make the genre_counts text.
    slots = {f"g{i}": _occurrences(name) for i, name in enumerate(names)}
    user_daily = _cumulative(tagged, "user_id", slots)
    text = _genre_text(names, list(slots))
    # The as_of row takes the latest counts, a day still open at as_of included, as it does
    # interaction_count.
    user_daily = user_daily.select("*", text.alias("genre_counts")).drop(*slots)
    user_rows = _with_as_of(
        user_daily, "user_id", users, as_of_lit, as_of_s, carry={"genre_counts": "genre_counts"}
    ).withColumn("genre_counts", F.coalesce("genre_counts", F.lit("")))

    item_daily = _cumulative(events, "item_id", {})
    item_rows = _with_as_of(item_daily, "item_id", catalogue.select("item_id"), as_of_lit, as_of_s)
    genres = catalogue.select("item_id", F.concat_ws("|", "genres").alias("genres"))
    item_rows = item_rows.join(genres, "item_id", "left").withColumn(
        "genres", F.coalesce("genres", F.lit(""))
    )
    return (
        _to_pandas(user_rows, "user_id", "genre_counts"),
        _to_pandas(item_rows, "item_id", "genres"),
    )


def _day_end(ts: Column) -> Column:
    from pyspark.sql import functions as F

    return F.date_trunc("DAY", ts) + F.expr("INTERVAL 1 DAY")


def _floor_seconds(ts: Column) -> Column:
    """Whole epoch seconds rounded down, as pandas' ``// 10**9`` (unix_seconds truncates)."""
    from pyspark.sql import functions as F

    micros = F.unix_micros(ts)
    return ((micros - F.pmod(micros, F.lit(1_000_000))) / 1_000_000).cast("long")


def _so_far(key: str):  # type: ignore[no-untyped-def]
    from pyspark.sql import Window

    return (
        Window.partitionBy(key)
        .orderBy("event_timestamp")
        .rowsBetween(Window.unboundedPreceding, Window.currentRow)
    )


def _genre_names(catalogue: DataFrame) -> list[str]:
    """Genres in the order the pandas path writes them (sorted code points, as Python's)."""
    from pyspark.sql import functions as F

    found = catalogue.select(F.explode("genres").alias("genre")).where("genre != ''").distinct()
    return sorted(row.genre for row in found.collect())


def _occurrences(name: str) -> Column:
    """How often ``genres`` lists ``name`` (twice if listed twice, as an explode counts it)."""
    from pyspark.sql import functions as F

    return F.size(F.filter(F.coalesce("genres", F.array()), lambda genre: genre == F.lit(name)))


def _genre_text(names: list[str], slots: list[str]) -> Column:
    """``"Comedy:3|Drama:12"`` from the running count columns, genres with no count left out."""
    from pyspark.sql import functions as F

    parts = [
        F.when(F.col(s) > 0, F.concat(F.lit(f"{name}:"), F.col(s).cast("string")))
        for s, name in zip(slots, names, strict=True)
    ]
    return F.concat_ws("|", *parts) if parts else F.lit("")


def _cumulative(events: DataFrame, key: str, per_day: dict[str, Column]) -> DataFrame:
    """One row per entity and active day: the values as of the end of that day, and running sums
    of the ``per_day`` counts under their names."""
    from pyspark.sql import functions as F

    unrated = F.col("rating").isNull() | F.isnan("rating")
    daily = events.groupBy(key, "event_timestamp").agg(
        F.count(F.lit(1)).alias("n"),
        F.sum(F.when(unrated, 0).otherwise(1)).alias("rated"),
        F.sum(F.when(unrated, 0.0).otherwise(F.col("rating"))).alias("rating_sum"),
        F.max("ts").alias("last"),
        F.min("ts").alias("first"),
        *[F.sum(count).alias(name) for name, count in per_day.items()],
    )
    so_far = _so_far(key)
    rated = F.sum("rated").over(so_far)
    return daily.select(
        key,
        "event_timestamp",
        F.sum("n").over(so_far).alias("interaction_count"),
        # No rated interaction yet: null (NaN in pandas), not a division by zero.
        (F.sum("rating_sum").over(so_far) / F.when(rated > 0, rated)).alias("mean_rating"),
        F.max("last").over(so_far).alias("last_interaction_ts"),
        F.min("first").over(so_far).alias("first_interaction_ts"),
        *[F.sum(name).over(so_far).alias(name) for name in per_day],
    ).withColumn(
        "days_since_last_interaction",
        (_floor_seconds(F.col("event_timestamp")) - F.col("last_interaction_ts")) / 86400.0,
    )


def _with_as_of(
    daily: DataFrame,
    key: str,
    ids: DataFrame,
    as_of: Column,
    as_of_s: int,
    carry: dict[str, str] | None = None,
) -> DataFrame:
    """The daily rows that ended before ``as_of``, plus every id's latest state at ``as_of``.
    ``carry`` maps an output column to the daily column the as_of row takes it from."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    carry = carry or {}
    features = [key, *FEATURE_COLUMNS]
    latest = (
        daily.withColumn(
            "_rank",
            F.row_number().over(Window.partitionBy(key).orderBy(F.col("event_timestamp").desc())),
        )
        .where("_rank = 1")
        .select(*features, *[F.col(src).alias(out) for out, src in carry.items()])
    )
    at_as_of = (
        ids.join(latest, key, "left")
        .withColumn("event_timestamp", as_of)
        .withColumn("interaction_count", F.coalesce("interaction_count", F.lit(0)))
        .withColumn(
            "days_since_last_interaction",
            (F.lit(float(as_of_s)) - F.col("last_interaction_ts")) / 86400.0,
        )
    )
    columns = [key, "event_timestamp", *FEATURE_COLUMNS, *carry]
    before = daily.where(F.col("event_timestamp") < as_of).select(columns)
    return before.unionByName(at_as_of.select(columns))


def _to_pandas(rows: DataFrame, key: str, text_column: str) -> pd.DataFrame:
    """Spark rows → the pandas frame the pandas path builds (columns and dtypes)."""
    columns = [key, "event_timestamp", *FEATURE_COLUMNS, text_column]
    # Sorted here, not in Spark: a global sort is one more job with a sampling pass.
    frame = rows.select(columns).toPandas().sort_values([key, "event_timestamp"], ignore_index=True)
    # toPandas gives naive wall-clock times in the session zone, which is UTC.
    stamps = pd.to_datetime(frame["event_timestamp"])
    frame["event_timestamp"] = stamps.dt.tz_localize("UTC").astype("datetime64[ns, UTC]")
    frame[key] = frame[key].astype(object)
    frame["interaction_count"] = frame["interaction_count"].astype("int64")
    frame["mean_rating"] = frame["mean_rating"].astype(float)
    frame["days_since_last_interaction"] = frame["days_since_last_interaction"].astype(float)
    frame["last_interaction_ts"] = frame["last_interaction_ts"].astype("Int64")
    frame["first_interaction_ts"] = frame["first_interaction_ts"].astype("Int64")
    frame[text_column] = frame[text_column].astype(object)
    return frame
