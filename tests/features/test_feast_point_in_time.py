"""Through Feast on real Postgres: point-in-time joins never see an interaction from the future."""

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from recsys.data.loader import load_dataset
from recsys.data.synthetic import SyntheticConfig, generate_synthetic
from recsys.features.build import build_feature_tables

pytestmark = pytest.mark.integration


def test_historical_features_only_count_interactions_from_days_already_over(
    engine,
    feature_store,  # type: ignore[no-untyped-def]
) -> None:
    data = generate_synthetic(SyntheticConfig(n_users=60, n_items=50, days=30, seed=3))
    load_dataset(engine, data)
    build_feature_tables(engine, as_of=datetime(2026, 11, 20, tzinfo=UTC))
    feature_store.refresh_registry()

    # Label-like rows: each user at the moment of one of their own interactions.
    rng = np.random.default_rng(0)
    labels = data.interactions.sample(80, random_state=1)[["user_id", "occurred_at"]]
    labels = labels.rename(columns={"occurred_at": "event_timestamp"})
    labels["event_timestamp"] += pd.to_timedelta(rng.integers(0, 3600, len(labels)), unit="s")
    got = feature_store.get_historical_features(
        entity_df=labels.reset_index(drop=True),
        features=["user_stats:interaction_count", "user_stats:last_interaction_ts"],
    ).to_df()

    inter = data.interactions
    checked = 0
    for row in got.itertuples():
        ts = pd.Timestamp(row.event_timestamp)
        ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
        mine = inter[inter.user_id == row.user_id]
        day_start = ts.floor("D")
        expected = int((mine.occurred_at < day_start).sum())
        if expected == 0:
            assert pd.isna(row.interaction_count)
            continue
        assert row.interaction_count == expected
        # Nothing at or after the label's own time is ever in the features.
        assert row.last_interaction_ts < ts.timestamp()
        assert row.interaction_count <= int((mine.occurred_at < ts).sum())
        checked += 1
    assert checked >= len(labels) // 2  # most rows had history to check, not just the NaN case
