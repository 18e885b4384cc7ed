from feast import FeatureService
from on_demand import genre_affinity
from views import item_stats, user_stats, user_taste

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

lightgbm_v1 = FeatureService(
    name="lightgbm_v1",
    features=[user_stats, item_stats, user_taste, genre_affinity],
    description="LightGBM LambdaRank over popularity candidates: user, item, user x item",
    tags={"ranker": "lightgbm"},
)

two_stage_v1 = FeatureService(
    name="two_stage_v1",
    features=[user_stats, item_stats, user_taste, genre_affinity],
    description="Two-stage: ALS candidates re-ranked by LightGBM on user, item, user x item",
    tags={"ranker": "two_stage"},
)

# A ranker with no FeatureService of its own here (one registered by another package through
# the `recsys.rankers` entry points) is trained, served and monitored with this one, as long as
# it reads no store features (recsys/training/feast_features.py::resolve_feature_service).
default_v1 = FeatureService(
    name="default_v1",
    features=[user_stats, item_stats],
    description="Rankers without a FeatureService of their own: logged for monitoring",
    tags={"ranker": "any"},
)

# The collaborative rankers read the same features as ALS (logged for monitoring).
bpr_v1 = FeatureService(name="bpr_v1", features=[user_stats, item_stats], tags={"ranker": "bpr"})
item_knn_v1 = FeatureService(
    name="item_knn_v1", features=[user_stats, item_stats], tags={"ranker": "item_knn"}
)
ease_v1 = FeatureService(name="ease_v1", features=[user_stats, item_stats], tags={"ranker": "ease"})
sequential_knn_v1 = FeatureService(
    name="sequential_knn_v1", features=[user_stats, item_stats], tags={"ranker": "sequential_knn"}
)
