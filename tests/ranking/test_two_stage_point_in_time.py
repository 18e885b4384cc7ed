"""The two-stage ranker's training rows, read through Feast on real Postgres, never see the future.

A poisoned feature row is written into the offline table one hour after every labelled user's
cut-off: if a point-in-time join ever let a value dated after a label's time into that label's
training row, the poison would show up.
"""

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from recsys.data.loader import load_dataset
from recsys.data.synthetic import SyntheticConfig, generate_synthetic
from recsys.features.build import build_feature_tables
from recsys.ranking import InteractionData
from recsys.ranking.learning_to_rank import carve_labels
from recsys.ranking.two_stage import TwoStageRanker
from recsys.training.feast_features import FeastFeatureSource

pytestmark = pytest.mark.integration
POISON = 987_654_321


def test_training_rows_only_see_features_from_before_their_labels(engine, feature_store) -> None:  # type: ignore[no-untyped-def]
    data = generate_synthetic(SyntheticConfig(n_users=60, n_items=80, days=40, seed=11))
    load_dataset(engine, data)
    build_feature_tables(engine, as_of=datetime(2026, 11, 20, tzinfo=UTC))
    feature_store.refresh_registry()

    ranker = TwoStageRanker(
        {
            "n_estimators": 20,
            "min_data_in_leaf": 5,
            "candidates": 30,
            "generator_params": {"factors": 8},
        }
    )
    source = FeastFeatureSource(feature_store, engine)
    matrix = InteractionData.from_frame(data.interactions, data.items["item_id"], features=source)
    history, labels, cutoffs = carve_labels(matrix.events, "temporal", 0.2, 5, seed=0)

    with engine.begin() as conn:
        for user_id, cutoff in cutoffs.items():
            poison_at = cutoff + pd.Timedelta(hours=1)
            conn.execute(
                text(
                    "INSERT INTO user_features (user_id, event_timestamp, created_at, "
                    "interaction_count, mean_rating, last_interaction_ts, "
                    "days_since_last_interaction, first_interaction_ts, genre_counts) "
                    "VALUES (:u, :t, now(), :p, 1.0, :p, 0, :p, 'Poison:1') "
                    "ON CONFLICT DO NOTHING"
                ),
                {"u": user_id, "t": poison_at.to_pydatetime(), "p": POISON},
            )
            conn.execute(
                text(
                    "INSERT INTO item_features (item_id, event_timestamp, created_at, "
                    "interaction_count, mean_rating, last_interaction_ts, "
                    "days_since_last_interaction, first_interaction_ts, genres) "
                    "SELECT item_id, :t, now(), :p, 1.0, :when, 0, :when, 'Poison' FROM items "
                    "ON CONFLICT DO NOTHING"
                ),
                # dated by its own timestamp, so a row can tell whether it came from its past
                {"t": poison_at.to_pydatetime(), "p": POISON, "when": int(poison_at.timestamp())},
            )

    rows, inputs = ranker.training_frame(matrix, history, labels, cutoffs)

    assert len(rows) > 0 and rows["label"].sum() > 0
    assert (rows["event_timestamp"] == rows["user_id"].map(cutoffs)).all()
    # A user's poison is dated after their own cut-off: it must never appear.
    assert not (rows["user_stats__interaction_count"] == POISON).any()
    assert not rows["user_taste__genre_counts"].fillna("").str.contains("Poison").any()
    # Item poison dated after *another* user's earlier cut-off is legitimately in this row's past;
    # none dated after this row's own time may appear.
    row_seconds = rows["event_timestamp"].map(pd.Timestamp.timestamp)
    poisoned = rows["item_stats__interaction_count"] == POISON
    assert (rows.loc[poisoned, "item_stats__last_interaction_ts"] < row_seconds[poisoned]).all()
    assert (rows["item_stats__last_interaction_ts"].dropna() < row_seconds).all()
    assert poisoned.any() and not poisoned.all()  # the poison was there to be found

    # Row by row: the user's count is exactly their interactions on days over before the cut-off,
    # and nothing at or after the cut-off (every label is there) reaches the row.
    inter = data.interactions
    for user_id, cutoff in cutoffs.items():
        mine = rows[rows["user_id"] == user_id]
        day_start = cutoff.floor("D")
        expected = int(((inter.user_id == user_id) & (inter.occurred_at < day_start)).sum())
        got = mine["user_stats__interaction_count"].iloc[0]
        assert (expected == 0 and pd.isna(got)) or got == expected
        assert (mine["user_stats__last_interaction_ts"].dropna() < cutoff.timestamp()).all()
        user_labels = labels[labels.user_id == user_id]
        assert (user_labels.occurred_at >= cutoff).all()
    # The booster sees ages and the on-demand affinity, never raw timestamps.
    assert "user_item_affinity__genre_share_mean" not in inputs  # not a view of this repo
    assert "genre_affinity__genre_share_mean" in inputs
    assert not any(c.endswith("_ts") for c in inputs.columns)
    assert np.isfinite(inputs["generator_score"]).all()
