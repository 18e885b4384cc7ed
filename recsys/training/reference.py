"""A model's drift reference: what it would serve, with features, at training time.

Monitoring compares what the API served against this frame, column for column: the Feast
features of the served (user, item) pairs (full names, e.g. ``item_stats__interaction_count``),
the model's ``score`` and the ``rank``.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from recsys.ranking import Ranker


def build_reference(
    ranker: Ranker,
    store,  # feast.FeatureStore
    *,
    feature_service: str,
    as_of: datetime,
    n_users: int,
    k: int,
    seed: int = 0,
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    users = ranker.user_ids_
    sample = rng.choice(users, size=min(n_users, len(users)), replace=False)
    rows = []
    for user in sample:
        recs = ranker.recommend(str(user), k)
        for rank, (item, score) in enumerate(zip(recs.item_ids, recs.scores, strict=True), 1):
            rows.append((str(user), str(item), float(score), rank))
    served = pd.DataFrame(rows, columns=["user_id", "item_id", "score", "rank"])
    entity_df = served[["user_id", "item_id"]].assign(event_timestamp=pd.Timestamp(as_of))
    features = store.get_historical_features(
        entity_df=entity_df,
        features=store.get_feature_service(feature_service),
        full_feature_names=True,
    ).to_df()
    merged = served.merge(
        features.drop(columns=["event_timestamp"]), on=["user_id", "item_id"], how="left"
    )
    return merged
