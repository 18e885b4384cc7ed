"""Point-in-time features for many (user, item, time) rows through Feast's offline store.

Feast uploads a pandas entity frame row by row; for training-set sizes this source instead COPYs
the rows into a scratch table and hands Feast a SQL entity query, so the point-in-time join runs
inside PostgreSQL. Values come from the ranker's FeatureService, with full feature names
(``view__feature``), exactly as the online path returns them.
"""

from __future__ import annotations

import uuid

import pandas as pd
from sqlalchemy import Engine

from recsys.ranking import Ranker

ENTITY_COLUMNS = ["user_id", "item_id", "event_timestamp"]
#: What a ranker without a FeatureService of its own (one from another package, say) is logged
#: and monitored with: user activity and item popularity (feature_repo/services.py).
DEFAULT_FEATURE_SERVICE = "default_v1"


class FeatureServiceMissingError(ValueError):
    """The ranker reads store features through a FeatureService the feature repo lacks."""


def resolve_feature_service(store, ranker: Ranker) -> str:  # type: ignore[no-untyped-def]
    """The FeatureService a trained version records (and the API reads and logs): the ranker's
    own when the Feast project defines it, else, for another package's ranker that reads no
    store features, :data:`DEFAULT_FEATURE_SERVICE`. A ranker that learns from store features
    needs its own, and so does every ranker of this package (missing means not applied)."""
    from feast.errors import FeatureServiceNotFoundException

    wanted = ranker.feature_service
    try:
        store.get_feature_service(wanted)
        return wanted
    except FeatureServiceNotFoundException:
        # This package's rankers all have one in feature_repo/: missing means not applied.
        built_in = type(ranker).__module__.startswith("recsys.")
        if ranker.uses_store_features or built_in:
            where = (
                "run `recsys features apply`"
                if built_in
                else "add it to feature_repo/services.py and run `recsys features apply`"
            )
            raise FeatureServiceMissingError(
                f"ranker {ranker.name!r} reads its features through the FeatureService "
                f"{wanted!r}, which Feast project {store.project!r} does not define: {where}"
            ) from None
    store.get_feature_service(DEFAULT_FEATURE_SERVICE)  # a clear Feast error if not applied
    return DEFAULT_FEATURE_SERVICE


class FeastFeatureSource:
    def __init__(self, store, engine: Engine) -> None:  # type: ignore[no-untyped-def]
        self._store = store
        self._engine = engine

    def historical(self, rows: pd.DataFrame, feature_service: str) -> pd.DataFrame:
        """``rows`` has user_id, item_id, event_timestamp (UTC); returns them with features, in
        the same order. A value dated after a row's event_timestamp never reaches that row."""
        entities = rows[ENTITY_COLUMNS].reset_index(drop=True)
        table = f"entity_rows_{uuid.uuid4().hex[:12]}"
        raw = self._engine.raw_connection()
        try:
            conn = raw.driver_connection
            with conn.cursor() as cur:
                cur.execute(
                    f"CREATE UNLOGGED TABLE {table} "
                    "(row_id bigint, user_id text, item_id text, event_timestamp timestamptz)"
                )
                with cur.copy(f"COPY {table} FROM STDIN (FORMAT csv)") as copy:
                    copy.write(
                        entities.assign(
                            event_timestamp=pd.to_datetime(entities["event_timestamp"], utc=True)
                        )
                        .reset_index(names="row_id")[["row_id", *ENTITY_COLUMNS]]
                        .to_csv(header=False, index=False, date_format="%Y-%m-%d %H:%M:%S.%f+00")
                    )
            conn.commit()
            features = self._store.get_historical_features(
                entity_df=f"SELECT row_id, user_id, item_id, event_timestamp FROM {table}",
                features=self._store.get_feature_service(feature_service),
                full_feature_names=True,
            ).to_df()
        finally:
            with raw.driver_connection.cursor() as cur:
                cur.execute(f"DROP TABLE IF EXISTS {table}")
            raw.driver_connection.commit()
            raw.close()
        features = features.sort_values("row_id").drop(columns=["row_id"]).reset_index(drop=True)
        if len(features) != len(entities):
            raise RuntimeError(f"Feast returned {len(features)} rows for {len(entities)}")
        return features
