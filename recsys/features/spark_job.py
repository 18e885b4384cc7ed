"""The point-in-time feature tables computed with PySpark: the same rows and values as
:mod:`recsys.features.snapshots` (held equal by tests/features/test_spark_job.py).

Inputs arrive as pandas frames (``read_interactions`` / ``read_items``) and become Spark frames in
:func:`feature_frames`: this machine cannot fetch the Postgres JDBC jar, and the app database is
small enough to read through psycopg. At scale the two ``createDataFrame`` calls are where a real
source plugs in: ``spark.read.parquet(<lake path>)`` of the interaction log, or
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
    on ``master`` (default RECSYS_SPARK_MASTER), stopped on exit."""
    sql = require_pyspark()
    active = sql.SparkSession.getActiveSession()
    if active is not None:
        yield active
        return
    if master is None:
        from recsys.config import get_settings

        master = get_settings().spark_master
    builder = (
        sql.SparkSession.builder.appName("recsys-features")
        .master(master)
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
    events = (
        events.where(F.col("occurred_at") < as_of_lit)
        .withColumn("event_timestamp", _day_end(F.col("occurred_at")))
        .withColumn("ts", _floor_seconds(F.col("occurred_at")))
        .cache()
    )
    as_of_s = as_of_ts.value // 10**9
    user_daily = _cumulative(events, "user_id")
    user_rows = _with_as_of(user_daily, "user_id", users, as_of_lit, as_of_s)
    user_rows = user_rows.join(
        _genre_counts(events, catalogue, user_daily, as_of_lit),
        ["user_id", "event_timestamp"],
        "left",
    ).withColumn("genre_counts", F.coalesce("genre_counts", F.lit("")))

    item_daily = _cumulative(events, "item_id")
    item_rows = _with_as_of(item_daily, "item_id", catalogue.select("item_id"), as_of_lit, as_of_s)
    genres = catalogue.select("item_id", F.concat_ws("|", "genres").alias("genres"))
    item_rows = item_rows.join(genres, "item_id", "left").withColumn(
        "genres", F.coalesce("genres", F.lit(""))
    )
    try:
        return (
            _to_pandas(user_rows, "user_id", "genre_counts"),
            _to_pandas(item_rows, "item_id", "genres"),
        )
    finally:
        events.unpersist()


def _day_end(ts: Column) -> Column:
    from pyspark.sql import functions as F

    return F.date_trunc("DAY", ts) + F.expr("INTERVAL 1 DAY")


def _floor_seconds(ts: Column) -> Column:
    """Whole epoch seconds rounded down, as pandas' ``// 10**9`` (unix_seconds truncates)."""
    from pyspark.sql import functions as F

    micros = F.unix_micros(ts)
    return ((micros - F.pmod(micros, F.lit(1_000_000))) / 1_000_000).cast("long")


def _seconds(ts: Column) -> Column:
    return _floor_seconds(ts).cast("double")


def _cumulative(events: DataFrame, key: str) -> DataFrame:
    """One row per entity and active day: the values as of the end of that day."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    unrated = F.col("rating").isNull() | F.isnan("rating")
    daily = events.groupBy(key, "event_timestamp").agg(
        F.count(F.lit(1)).alias("n"),
        F.sum(F.when(unrated, 0).otherwise(1)).alias("rated"),
        F.sum(F.when(unrated, 0.0).otherwise(F.col("rating"))).alias("rating_sum"),
        F.max("ts").alias("last"),
        F.min("ts").alias("first"),
    )
    so_far = (
        Window.partitionBy(key)
        .orderBy("event_timestamp")
        .rowsBetween(Window.unboundedPreceding, Window.currentRow)
    )
    rated = F.sum("rated").over(so_far)
    return daily.select(
        key,
        "event_timestamp",
        F.sum("n").over(so_far).alias("interaction_count"),
        # No rated interaction yet: null (NaN in pandas), not a division by zero.
        (F.sum("rating_sum").over(so_far) / F.when(rated > 0, rated)).alias("mean_rating"),
        F.max("last").over(so_far).alias("last_interaction_ts"),
        F.min("first").over(so_far).alias("first_interaction_ts"),
    ).withColumn(
        "days_since_last_interaction",
        (_seconds(F.col("event_timestamp")) - F.col("last_interaction_ts")) / 86400.0,
    )


def _with_as_of(
    daily: DataFrame, key: str, ids: DataFrame, as_of: Column, as_of_s: int
) -> DataFrame:
    """The daily rows that ended before ``as_of``, plus every id's latest state at ``as_of``."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    newest_first = Window.partitionBy(key).orderBy(F.col("event_timestamp").desc())
    latest = (
        daily.withColumn("_rank", F.row_number().over(newest_first))
        .where("_rank = 1")
        .drop("_rank", "event_timestamp", "days_since_last_interaction")
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
    columns = [key, "event_timestamp", *FEATURE_COLUMNS]
    before = daily.where(F.col("event_timestamp") < as_of).select(columns)
    return before.unionByName(at_as_of.select(columns))


def _genre_counts(
    events: DataFrame, catalogue: DataFrame, user_daily: DataFrame, as_of: Column
) -> DataFrame:
    """(user_id, event_timestamp, genre_counts) for every daily row and the as_of rows: the counts
    per genre of the user's interactions on days that ended by that time, ``"Comedy:3|Drama:12"``
    in genre order. Like the pandas path, the as_of row leaves out a day still open at as_of."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    tagged = (
        events.join(catalogue, "item_id")
        .select("user_id", "event_timestamp", F.explode("genres").alias("genre"))
        .where(F.col("genre").isNotNull() & (F.col("genre") != ""))
    )
    # From the (small) catalogue, not the events: a genre nobody touched only adds zero counts,
    # which the text leaves out anyway.
    genres = catalogue.select(F.explode("genres").alias("genre")).where("genre != ''").distinct()
    names = sorted(r.genre for r in genres.collect())
    if not names:
        return user_daily.select("user_id", "event_timestamp", F.lit("").alias("genre_counts"))
    # Spark's pivot would name the columns after the genres; positional names avoid quoting.
    slots = [f"g{i}" for i in range(len(names))]
    per_day = (
        tagged.groupBy("user_id", "event_timestamp")
        .pivot("genre", names)
        .count()
        .toDF("user_id", "event_timestamp", *slots)
    )
    # Every active day (also those without a genre) carries the running counts, so a row's value
    # is the one of its own day and the as_of row's that of the last day ended by as_of.
    so_far = (
        Window.partitionBy("user_id")
        .orderBy("event_timestamp")
        .rowsBetween(Window.unboundedPreceding, Window.currentRow)
    )
    days = user_daily.select("user_id", "event_timestamp").join(
        per_day, ["user_id", "event_timestamp"], "left"
    )
    running = days.select(
        "user_id",
        "event_timestamp",
        *[F.sum(F.coalesce(s, F.lit(0))).over(so_far).alias(s) for s in slots],
    )
    text = F.concat_ws(
        "|",
        *[
            F.when(F.col(s) > 0, F.concat(F.lit(f"{name}:"), F.col(s).cast("string")))
            for s, name in zip(slots, names, strict=True)
        ],
    )
    counts = running.select("user_id", "event_timestamp", text.alias("genre_counts"))
    newest_first = Window.partitionBy("user_id").orderBy(F.col("event_timestamp").desc())
    at_as_of = (
        counts.where(F.col("event_timestamp") <= as_of)
        .withColumn("_rank", F.row_number().over(newest_first))
        .where("_rank = 1")
        .select("user_id", as_of.alias("event_timestamp"), "genre_counts")
    )
    before = counts.where(F.col("event_timestamp") < as_of)
    return before.unionByName(at_as_of)


def _to_pandas(rows: DataFrame, key: str, text_column: str) -> pd.DataFrame:
    """Spark rows → the pandas frame the pandas path builds (columns and dtypes)."""
    columns = [key, "event_timestamp", *FEATURE_COLUMNS, text_column]
    frame = rows.select(columns).orderBy(key, "event_timestamp").toPandas()
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
