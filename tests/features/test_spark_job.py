"""The Spark engine builds the same feature tables as the pandas one (issue 7)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from recsys.cli import app
from recsys.data.synthetic import SyntheticConfig, generate_synthetic
from recsys.features.build import build_feature_tables, compute_feature_frames
from recsys.features.spark_job import SparkUnavailableError, spark_session

# Mid-day: the day still open at as_of is in the as_of rows' counts but has no daily row yet.
AS_OF = datetime(2026, 10, 20, 13, 30, tzinfo=UTC)
TEXT_COLUMN = {"user_id": "genre_counts", "item_id": "genres"}


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    """One local session for the test session, stopped at its end; the engine reuses the active
    session rather than starting its own."""
    with spark_session("local[2]") as session:
        session.sparkContext.setLogLevel("ERROR")
        yield session


def _dataset():  # type: ignore[no-untyped-def]
    """Synthetic data with the awkward cases added: unrated interactions, an item without genres,
    an interaction on an item missing from the catalogue, a user without interactions and one
    with interactions but missing from the users table, activity after as_of."""
    data = generate_synthetic(
        SyntheticConfig(n_users=150, n_items=120, mean_interactions_per_user=15, days=60)
    )
    interactions = data.interactions.copy()
    interactions.loc[interactions.index % 7 == 0, "rating"] = np.nan
    extra = pd.DataFrame(
        {
            "user_id": ["0", "ghost", "ghost"],
            "item_id": ["no-genres", "not-in-catalogue", "0"],
            "rating": [3.5, np.nan, 4.0],
            "occurred_at": pd.to_datetime(
                ["2026-10-01T08:00", "2026-10-02T23:59:59.5", "2026-10-20T09:00"],
                utc=True,
                format="ISO8601",
            ),
        }
    )
    interactions = pd.concat([interactions, extra], ignore_index=True)
    items = pd.concat(
        [data.items, pd.DataFrame({"item_id": ["no-genres"], "title": ["x"], "genres": [[]]})],
        ignore_index=True,
    )
    user_ids = pd.Index([*data.users["user_id"], "lurker"])
    return interactions, items, user_ids


def _sorted(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    return frame.sort_values([key, "event_timestamp"], ignore_index=True)


def test_spark_frames_equal_pandas_frames_on_synthetic_data(spark) -> None:  # type: ignore[no-untyped-def]
    interactions, items, user_ids = _dataset()
    expected = compute_feature_frames(interactions, items, user_ids, AS_OF, "pandas")
    got = compute_feature_frames(interactions, items, user_ids, AS_OF, "spark")
    for want, have, key in zip(expected, got, ("user_id", "item_id"), strict=True):
        # Same columns in the same order, same dtypes, same rows; floats to 1e-9.
        pd.testing.assert_frame_equal(_sorted(have, key), _sorted(want, key), rtol=1e-9)
    users = got[0]
    # The awkward cases are really in there (so equality above covers them).
    lurker = users[users.user_id == "lurker"]
    assert len(lurker) == 1 and lurker.iloc[0].interaction_count == 0
    assert lurker.iloc[0].genre_counts == "" and pd.isna(lurker.iloc[0].mean_rating)
    assert (users.user_id == "ghost").sum() == 1  # a daily row, no as_of row
    assert users.mean_rating.isna().any() and (users.event_timestamp == AS_OF).sum() == 151
    assert (got[1][got[1].item_id == "no-genres"].genres == "").all()


def test_spark_frames_equal_pandas_frames_at_midnight_and_before_any_activity(spark) -> None:  # type: ignore[no-untyped-def]
    interactions, items, user_ids = _dataset()
    for as_of in (datetime(2026, 10, 10, tzinfo=UTC), datetime(2020, 1, 1, tzinfo=UTC)):
        expected = compute_feature_frames(interactions, items, user_ids, as_of, "pandas")
        got = compute_feature_frames(interactions, items, user_ids, as_of, "spark")
        for want, have, key in zip(expected, got, ("user_id", "item_id"), strict=True):
            pd.testing.assert_frame_equal(_sorted(have, key), _sorted(want, key), rtol=1e-9)


def _table(engine, name: str, key: str) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        frame = pd.read_sql_query(text(f"SELECT * FROM {name}"), conn)
    return _sorted(frame.drop(columns="created_at"), key)


@pytest.mark.integration
def test_build_with_spark_writes_the_tables_the_pandas_build_writes(spark, engine) -> None:  # type: ignore[no-untyped-def]
    from recsys.data.loader import load_dataset

    load_dataset(
        engine,
        generate_synthetic(
            SyntheticConfig(n_users=120, n_items=100, mean_interactions_per_user=12, days=45)
        ),
    )
    counts = build_feature_tables(engine, AS_OF)
    expected = {n: _table(engine, n, k) for n, k in (("user_features", "user_id"),
                                                      ("item_features", "item_id"))}  # fmt: skip
    assert build_feature_tables(engine, AS_OF, compute="spark") == counts
    for name, key in (("user_features", "user_id"), ("item_features", "item_id")):
        got = _table(engine, name, key)
        assert len(got) == counts[f"{key.split('_')[0]}_feature_rows"]
        pd.testing.assert_frame_equal(got, expected[name], rtol=1e-9)


def test_missing_pyspark_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)  # `import pyspark.sql` now fails
    with pytest.raises(SparkUnavailableError, match=r"pip install -e '\.\[spark\]'"):
        compute_feature_frames(pd.DataFrame(), pd.DataFrame(), pd.Index([]), AS_OF, "spark")
    result = CliRunner().invoke(app, ["features", "build", "--engine", "spark"])
    assert result.exit_code == 1 and "pip install -e '.[spark]'" in result.output


def test_unknown_engine_is_a_clear_error() -> None:
    result = CliRunner().invoke(app, ["features", "build", "--engine", "dask"])
    assert result.exit_code == 1 and "unknown engine 'dask'" in result.output
