"""The fast online-feature reader returns exactly what Feast's own online read returns, on real
Postgres (registry) and Redis (online store), and sees a materialisation and a push."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from recsys.data.synthetic import SyntheticConfig, generate_synthetic
from recsys.features.build import build_feature_tables
from recsys.features.feast_ops import materialize
from recsys.serving.feature_reader import OnlineFeatureReader

pytestmark = pytest.mark.integration

SERVICE = "two_stage_v1"  # user, item and on-demand user x item features


@pytest.fixture(scope="module")
def catalogue(serve_dataset):  # type: ignore[no-untyped-def]
    data = generate_synthetic(SyntheticConfig(n_users=300, n_items=1_100, seed=11))
    serve_dataset(data)
    return data


def _stock(store, user_id: str, item_ids: list[str]) -> dict[str, list]:
    return store.get_online_features(
        features=store.get_feature_service(SERVICE),
        entity_rows=[{"user_id": user_id, "item_id": i} for i in item_ids],
        full_feature_names=True,
    ).to_dict()


def _assert_same(fast: pd.DataFrame, stock: dict[str, list]) -> None:
    """Same columns (Feast's own order varies from call to call), and value by value the same
    Python value and type (None where missing)."""
    assert sorted(fast.columns) == sorted(stock)
    for column in fast.columns:
        mine, theirs = fast[column].tolist(), stock[column]
        for a, b in zip(mine, theirs, strict=True):
            if isinstance(b, float) and np.isnan(b):
                assert isinstance(a, float) and np.isnan(a), (column, a, b)
            else:
                assert a == b and type(a) is type(b), (column, a, b)


def test_values_equal_feasts_own_read_for_1000_candidates(catalogue, feature_store) -> None:  # type: ignore[no-untyped-def]
    reader = OnlineFeatureReader(feature_store, SERVICE, catalogue.items["item_id"])
    rng = np.random.default_rng(0)
    items = rng.choice(catalogue.items["item_id"], 998, replace=False).tolist()
    items += ["not-an-item", items[0]]  # unknown and repeated candidates too
    users = catalogue.interactions["user_id"].unique()[:3].tolist() + ["not-a-user"]
    for user in users:
        fast = reader.fetch(user, items)
        stock = _stock(feature_store, user, items)
        assert len(fast) == 1_000
        _assert_same(fast, stock)
    # again, now from the kept on-demand outputs, for a different candidate list
    again = items[::-1][:500] + rng.choice(catalogue.items["item_id"], 500).tolist()
    _assert_same(reader.fetch(users[0], again), _stock(feature_store, users[0], again))
    known = reader.fetch(users[0], items[:5])
    assert known["user_stats__interaction_count"].notna().all()
    assert known["genre_affinity__genre_share_mean"].notna().any()


def test_a_materialisation_is_picked_up_and_a_push_is_seen_at_once(  # type: ignore[no-untyped-def]
    catalogue, settings, engine, feature_store, test_endpoints
) -> None:
    reader = OnlineFeatureReader(
        feature_store, SERVICE, catalogue.items["item_id"], refresh_seconds=0
    )
    assert reader.refresh_if_stale() is False  # nothing materialised since it loaded
    item = catalogue.items["item_id"].iloc[0]
    before = reader.fetch("0", [item])["item_stats__interaction_count"].iloc[0]

    # Ten new interactions with the item, a new snapshot, materialised into Redis. (Nothing is
    # dated in the future: later tests materialise incrementally from here.)
    later = catalogue.interactions["occurred_at"].max() + timedelta(hours=1)
    extra = pd.DataFrame(
        {"user_id": [str(u) for u in range(10)], "item_id": item, "rating": 5.0,
         "occurred_at": later}
    )  # fmt: skip
    with engine.begin() as conn:
        extra.to_sql("interactions", conn, if_exists="append", index=False)
    build_feature_tables(engine)
    materialize(settings, test_endpoints)
    assert reader.refresh_if_stale() is True
    after = reader.fetch("0", [item])["item_stats__interaction_count"].iloc[0]
    # When it is not seen, say what Postgres built and what Feast recorded (that showed rows cut
    # to the second, dated before the materialisation that ended earlier in the same second).
    view = feature_store.registry.get_feature_view(
        "item_stats", feature_store.project, allow_cache=False
    )
    with engine.connect() as conn:
        built = conn.execute(
            text(
                "SELECT event_timestamp, interaction_count FROM item_features"
                " WHERE item_id = :item ORDER BY event_timestamp DESC LIMIT 2"
            ),
            {"item": str(item)},
        ).fetchall()
    assert after == (before or 0) + 10, (
        f"built {built}, materialised {view.materialization_intervals[-3:]}"
    )

    # A pushed user value is read on the next fetch, without any refresh. (Newer than the
    # snapshot just materialised: Redis keeps the newest value.)
    pushed_at = datetime.now(UTC)
    feature_store.write_to_online_store(
        "user_stats",
        pd.DataFrame(
            {
                "user_id": ["0"],
                "event_timestamp": [pushed_at],
                "created_at": [pushed_at],
                "interaction_count": [12345],
                "mean_rating": [4.0],
                "last_interaction_ts": [0],
                "days_since_last_interaction": [0.0],
                "first_interaction_ts": [0],
            }
        ),  # fmt: skip
    )
    assert reader.fetch("0", [item])["user_stats__interaction_count"].iloc[0] == 12345


def test_on_demand_outputs_are_kept_once_per_user_within_the_memory_budget(  # type: ignore[no-untyped-def]
    catalogue, feature_store
) -> None:
    items = catalogue.items["item_id"].tolist()
    users = sorted(catalogue.interactions["user_id"].astype(str).unique())[:6]
    roomy = OnlineFeatureReader(feature_store, SERVICE, items, on_demand_cache_bytes=2**30)
    for user in users + users:  # returning users add nothing
        roomy.fetch(user, items[:50])
    assert len(roomy._on_demand_cache) == len(users)

    # a user whose inputs change (an event pushed a new taste) keeps one entry, recomputed
    changed = "Action:7|Drama:1"
    feature_store.write_to_online_store(
        "user_taste",
        pd.DataFrame({"user_id": [users[0]], "event_timestamp": [datetime.now(UTC)],
                      "created_at": [datetime.now(UTC)], "genre_counts": [changed]}),
    )  # fmt: skip
    fresh = roomy.fetch(users[0], items[:50])
    assert len(roomy._on_demand_cache) == len(users)
    _assert_same(fresh, _stock(feature_store, users[0], items[:50]))

    groups = len(roomy.snapshot.group_rows["genre_affinity"])
    per_entry = groups * (1 + 2 * 32) + 1_000  # two outputs, see _on_demand_entries
    tight = OnlineFeatureReader(feature_store, SERVICE, items, on_demand_cache_bytes=2 * per_entry)
    for user in users:
        tight.fetch(user, items[:50])
    assert list(tight._on_demand_cache) == [("genre_affinity", u) for u in users[-2:]]  # LRU
