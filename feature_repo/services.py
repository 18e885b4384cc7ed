from feast import FeatureService
from views import item_stats, user_stats

# One FeatureService per ranker version: the exact features a model reads (and the API logs).
popularity_v1 = FeatureService(
    name="popularity_v1",
    features=[user_stats, item_stats],
    description="Popularity ranker: item popularity, with user activity logged for monitoring",
    tags={"ranker": "popularity"},
)

als_v1 = FeatureService(
    name="als_v1",
    features=[user_stats, item_stats],
    description="Implicit ALS ranker: user activity and item popularity",
    tags={"ranker": "als"},
)
