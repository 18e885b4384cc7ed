import pandas as pd
from feast import Field
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import Float64
from views import item_stats, user_taste


# User x item: how much of the user's history is in the item's genres. Computed by Feast at
# retrieval time from the two views, identically for training (historical) and serving (online).
# genre_share_mean: mean over the item's genres of the share of the user's interactions in that
# genre; genre_share_max: the largest. The function must be self-contained (Feast stores it
# serialised and runs it without this module's globals), and its fields carry no descriptions
# (Feast compares them with the ones it infers by running the function, descriptions included).
# Sources are narrowed to the columns the function reads: Feast passes it nothing else, and the
# API computes it once per distinct input (an item's genres repeat across the catalogue).
@on_demand_feature_view(
    sources=[user_taste, item_stats[["genres"]]],
    schema=[
        Field(name="genre_share_mean", dtype=Float64),
        Field(name="genre_share_max", dtype=Float64),
    ],
    mode="pandas",
    description="User x item genre affinity",
)
def genre_affinity(inputs: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    def shares(genre_counts: str) -> dict[str, float]:
        counts = {}
        for part in genre_counts.split("|"):
            genre, _, n = part.rpartition(":")
            if genre and n.isdigit():  # anything else is not a count (Feast probes with dummies)
                counts[genre] = float(n)
        total = sum(counts.values())
        return {genre: n / total for genre, n in counts.items()} if total else {}

    cache: dict[str, dict[str, float]] = {}
    mean, best = [], []
    for counts, genres in zip(
        inputs["user_taste__genre_counts"], inputs["item_stats__genres"], strict=True
    ):
        if not isinstance(counts, str) or not isinstance(genres, str) or not genres:
            mean.append(float("nan"))
            best.append(float("nan"))
            continue
        if counts not in cache:
            cache[counts] = shares(counts)
        values = [cache[counts].get(g, 0.0) for g in genres.split("|")]
        mean.append(sum(values) / len(values))
        best.append(max(values))
    return pd.DataFrame({"genre_share_mean": mean, "genre_share_max": best})
