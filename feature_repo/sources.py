from feast import PushSource
from feast.infra.offline_stores.contrib.postgres_offline_store.postgres_source import (
    PostgreSQLSource,
)

# Tables written by `recsys features build`: one row per entity per snapshot, stamped with the
# time the values became true (event_timestamp) so point-in-time joins never see the future.
user_features_source = PostgreSQLSource(
    name="user_features_source",
    query="SELECT * FROM user_features",
    timestamp_field="event_timestamp",
    created_timestamp_column="created_at",
    description="Per-user activity snapshots computed from interactions",
)

item_features_source = PostgreSQLSource(
    name="item_features_source",
    query="SELECT * FROM item_features",
    timestamp_field="event_timestamp",
    created_timestamp_column="created_at",
    description="Per-item popularity snapshots computed from interactions",
)

# Fresh user values computed by the API when events arrive (`POST /v1/events`), pushed straight
# to the online store; the batch source above stays the offline truth that `features build`
# recomputes (from the same interactions, events included).
user_features_push = PushSource(
    name="user_features_push",
    batch_source=user_features_source,
    description="User activity and taste recomputed at event time",
)
