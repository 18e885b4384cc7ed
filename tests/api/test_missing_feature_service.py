"""A served version whose FeatureService is gone from the Feast registry (a data engineer removed
it from feature_repo/services.py and ran `feast apply`): its answers degrade without leaving
what the user has seen or the caller's candidates, and the other models keep their features (it
is that model's problem, not a store outage). Real stores."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from api.app import create_app
from recsys.db.models import Model

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def lost_service(served, engine, request):  # type: ignore[no-untyped-def]
    """The active LightGBM version now names a FeatureService the registry does not hold (or,
    parametrised, one that lacks features it was trained on)."""
    _, _, lgbm, _ = served
    service = getattr(request, "param", "gone_v1")
    with engine.begin() as conn:
        conn.execute(
            update(Model).where(Model.version == lgbm.version).values(feature_service=service)
        )
    yield lgbm
    with engine.begin() as conn:
        conn.execute(
            update(Model)
            .where(Model.version == lgbm.version)
            .values(feature_service=lgbm.feature_service)
        )


def test_a_lost_feature_service_degrades_that_model_only(served, lost_service) -> None:  # type: ignore[no-untyped-def]
    data, als, _, app_settings = served
    user = str(data.interactions["user_id"].iloc[0])
    seen = set(data.interactions.loc[data.interactions["user_id"] == user, "item_id"].astype(str))
    popularity = data.interactions["item_id"].astype(str).value_counts()
    with TestClient(create_app(app_settings)) as client:
        for _ in range(2):
            body = client.get(f"/v1/users/{user}/recommendations?k=10").json()
            assert body["model_version"] == lost_service.version and body["degraded"]
            items = [i["item_id"] for i in body["items"]]
            assert len(items) == 10 and not set(items) & seen  # it served seen items before
            # Another model reads its own service: not degraded (it was, for the store-retry
            # period, when any failure counted as a store outage).
            other = client.get(f"/v1/users/{user}/recommendations?k=10&model={als.version}")
            assert other.json()["degraded"] is False

        unseen = [i for i in popularity.index if i not in seen]
        candidates = [unseen[30], unseen[2], unseen[10], "never-heard-of"]
        ranked = client.post(
            "/v1/rank", json={"user_id": user, "candidates": candidates, "k": 4}
        ).json()
        # Only the caller's candidates (it returned the overall most popular items), the
        # known ones by popularity, the unknown one last without a score.
        assert ranked["degraded"]
        assert [i["item_id"] for i in ranked["items"]] == [
            unseen[2], unseen[10], unseen[30], "never-heard-of"
        ]  # fmt: skip
        assert ranked["items"][-1]["score"] is None


@pytest.mark.parametrize("lost_service", ["als_v1"], indirect=True)
def test_a_service_without_the_trained_features_degrades_instead_of_feeding_gaps(  # type: ignore[no-untyped-def]
    served, lost_service, caplog
) -> None:
    """The service was edited after training (here: the user's taste and genre affinity are no
    longer in it): every request would have fed them to the booster as missing, silently."""
    data, _, _, app_settings = served
    user = str(data.interactions["user_id"].iloc[0])
    with TestClient(create_app(app_settings)) as client:
        body = client.get(f"/v1/users/{user}/recommendations?k=10").json()
    assert body["model_version"] == lost_service.version and body["degraded"]
    assert "als_v1 no longer serves" in caplog.text and "genre_affinity__" in caplog.text
