"""Online features for a request, read through Feast from the online store (Redis)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

ENTITY_COLUMNS = ("user_id", "item_id")
USER_VIEWS = ("user_stats__", "user_taste__")  # feature views keyed by the user alone


def fetch_online_features(
    store,  # feast.FeatureStore
    feature_service: str,
    user_id: str,
    item_ids: Sequence[str],
) -> pd.DataFrame:
    """One row per item, columns in Feast full names (``view__feature``); missing → None."""
    if not item_ids:
        return pd.DataFrame(columns=list(ENTITY_COLUMNS))
    response = store.get_online_features(
        # From the registry cache (refreshed every cache_ttl_seconds): an uncached lookup is a
        # SQL query per request, about 5 ms.
        features=store.get_feature_service(feature_service, allow_cache=True),
        entity_rows=[{"user_id": user_id, "item_id": item} for item in item_ids],
        full_feature_names=True,
    ).to_dict()
    return pd.DataFrame(response)


def user_feature_values(features: pd.DataFrame) -> dict[str, Any]:
    """The user's own features (identical on every row) as a plain dict."""
    if features.empty:
        return {}
    columns = [c for c in features.columns if c.startswith(USER_VIEWS)]
    return {c: json_value(features[c].iloc[0]) for c in columns}


def item_feature_rows(features: pd.DataFrame) -> list[dict[str, Any]]:
    columns = [
        c for c in features.columns if c not in ENTITY_COLUMNS and not c.startswith(USER_VIEWS)
    ]
    return [
        {c: json_value(v) for c, v in zip(columns, row, strict=True)}
        for row in features[columns].itertuples(index=False)
    ]


def json_value(value: Any) -> Any:
    """JSON-safe scalar: numpy types unwrapped, NaN → None."""
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value
