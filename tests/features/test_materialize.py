"""`recsys features materialize` on a Feast project that has never been materialised, with
feature tables built as of two years ago: every entity's latest state reaches Redis (Feast's
first incremental run with ttl=0 starts a year back, loaded nothing and said it had). Real
stores."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import redis

from recsys.data.loader import load_dataset
from recsys.data.synthetic import SyntheticConfig, generate_synthetic
from recsys.features.build import build_feature_tables
from recsys.features.feast_ops import EndBeforeLoadedError, apply_definitions, materialize
from recsys.infra.feast_store import build_feature_store

pytestmark = pytest.mark.integration


def test_a_first_materialisation_loads_old_tables(settings, test_endpoints, engine) -> None:  # type: ignore[no-untyped-def]
    data = generate_synthetic(SyntheticConfig(n_users=30, n_items=20, days=20, seed=8))
    load_dataset(engine, data)
    two_years_ago = datetime.now(UTC) - timedelta(days=730)
    build_feature_tables(engine, as_of=two_years_ago)
    fresh = settings.model_copy(update={"feast_project": f"first_{uuid.uuid4().hex[:8]}"})
    apply_definitions(fresh, test_endpoints)
    store = build_feature_store(fresh, test_endpoints)
    try:
        with pytest.raises(EndBeforeLoadedError, match="the earliest time a feature value"):
            materialize(fresh, test_endpoints, datetime(1960, 1, 1, tzinfo=UTC))
        first_end = materialize(fresh, test_endpoints)
        users = data.users["user_id"].astype(str).tolist()[:5]
        online = store.get_online_features(
            features=["user_stats:interaction_count"],
            entity_rows=[{"user_id": u} for u in users],
        ).to_dict()["interaction_count"]
        # Every interaction is later than two years ago: each user's state then is 0, not
        # missing.
        assert online == [0] * len(users)
        # The next run is incremental again: nothing new, nothing lost.
        materialize(fresh, test_endpoints)
        again = store.get_online_features(
            features=["user_stats:interaction_count"],
            entity_rows=[{"user_id": u} for u in users],
        ).to_dict()["interaction_count"]
        assert again == online
        # An end before what is loaded loads nothing: refused, not reported as the store's state.
        earlier = first_end - timedelta(days=1)
        with pytest.raises(EndBeforeLoadedError, match="already holds features up to") as back:
            materialize(fresh, test_endpoints, earlier.replace(tzinfo=None))  # naive is UTC
        assert earlier.isoformat() in str(back.value)
    finally:
        # Not store.teardown(): with the SQL registry it deletes every project's definitions,
        # the session's own included. This project's online rows only (keys end with its name).
        client = redis.Redis.from_url(settings.redis_url)
        suffix = fresh.feast_project.encode()
        stale = [k for k in client.scan_iter(count=1000) if k.endswith(suffix)]
        if stale:
            client.delete(*stale)
        build_feature_tables(engine)  # the shared tables as of now again, for later tests
        build_feature_store(settings, test_endpoints)  # the session's project in the env again
