"""The user features pushed at event time: Postgres's aggregates equal the pandas definition."""

from datetime import UTC, datetime

import pandas as pd
import pytest

from recsys.data.loader import load_dataset
from recsys.data.queries import read_interactions, read_items
from recsys.data.synthetic import SyntheticConfig, generate_synthetic
from recsys.features.push import current_user_rows, current_user_rows_from_db

pytestmark = pytest.mark.integration


def test_database_aggregates_equal_the_pandas_definition(engine) -> None:  # type: ignore[no-untyped-def]
    data = generate_synthetic(SyntheticConfig(n_users=80, n_items=60, seed=4))
    load_dataset(engine, data)
    now = datetime(2026, 10, 15, tzinfo=UTC)  # inside the data: later interactions are excluded
    users = data.interactions["user_id"].unique()[:30].tolist() + ["nobody"]
    expected = current_user_rows(read_interactions(engine), read_items(engine), users, now)
    got = current_user_rows_from_db(engine, users, now)
    pd.testing.assert_frame_equal(
        got.reset_index(drop=True), expected.reset_index(drop=True), check_dtype=False
    )
    assert (got["interaction_count"] > 0).sum() >= 20
