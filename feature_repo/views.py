from datetime import timedelta

from entities import item, user
from feast import FeatureView, Field
from feast.types import Float64, Int64, String
from sources import item_features_source, user_features_push


def _activity_fields(what: str) -> list[Field]:
    return [
        Field(name="interaction_count", dtype=Int64, description=f"{what}: interactions so far"),
        Field(name="mean_rating", dtype=Float64, description="Mean explicit rating so far"),
        Field(name="last_interaction_ts", dtype=Int64, description="Unix seconds of the latest"),
        Field(
            name="days_since_last_interaction",
            dtype=Float64,
            description="Days from the latest interaction to the snapshot time",
        ),
        Field(name="first_interaction_ts", dtype=Int64, description="Unix seconds of the first"),
    ]


# ttl=0: a snapshot stays valid until a newer one replaces it (users and items can be quiet for
# months; their last known activity is still the truth).
user_stats = FeatureView(
    name="user_stats",
    entities=[user],
    ttl=timedelta(0),
    schema=_activity_fields("Activity"),
    source=user_features_push,
    online=True,
    tags={"owner": "data-engineering"},
)

item_stats = FeatureView(
    name="item_stats",
    entities=[item],
    ttl=timedelta(0),
    schema=[
        *_activity_fields("Popularity"),
        Field(name="genres", dtype=String, description="Pipe-separated genres"),
    ],
    source=item_features_source,
    online=True,
    tags={"owner": "data-engineering"},
)

# A user's taste: interactions so far per genre ("Comedy:3|Drama:12"). Its own view so that only
# the rankers that use it read (and log) it.
user_taste = FeatureView(
    name="user_taste",
    entities=[user],
    ttl=timedelta(0),
    schema=[Field(name="genre_counts", dtype=String, description="Interactions per genre")],
    source=user_features_push,
    online=True,
    tags={"owner": "data-engineering"},
)
