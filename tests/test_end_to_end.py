"""The whole product on real stores: load → features → apply → materialize → train → HTTP →
serve log → drift report."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.app import create_app
from monitoring.drift import build_drift_report
from recsys.data.readers import read_dataset
from recsys.training.registry import ArtifactError, activate, list_models, rollback
from recsys.training.train import train_model

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def pipeline(settings, engine, feature_store, serve_dataset):  # type: ignore[no-untyped-def]
    """Load → features → apply → materialize → train popularity, then ALS (active)."""
    data = read_dataset("synthetic")
    serve_dataset(data)
    popularity = train_model(settings, engine, feature_store, "popularity")
    als = train_model(settings, engine, feature_store, "als")
    assert [m.version for m in list_models(engine) if m.is_active] == [als.version]
    assert popularity.version < als.version and Path(als.reference_path).is_file()
    return data, popularity, als


def test_pipeline_serves_personalised_and_fallback_recommendations_and_reports_drift(
    pipeline,
    settings,
    engine,
    feature_store,  # type: ignore[no-untyped-def]
) -> None:
    data, _, als = pipeline
    user = data.interactions["user_id"].iloc[0]
    history = set(data.interactions.loc[data.interactions.user_id == user, "item_id"])
    started = datetime.now(UTC)
    with TestClient(create_app(settings)) as client:
        assert client.get("/readyz").json()["status"] == "ready"
        body = client.get(f"/v1/users/{user}/recommendations", params={"k": 7}).json()
        assert body["model_version"] == als.version and body["algorithm"] == "als"
        assert body["fallback"] is False
        items = [i["item_id"] for i in body["items"]]
        assert len(items) == 7 and not set(items) & history
        scores = [i["score"] for i in body["items"]]
        assert scores == sorted(scores, reverse=True)

        cold = client.get("/v1/users/somebody-new/recommendations?k=3").json()
        assert cold["fallback"] is True and len(cold["items"]) == 3
        top = data.interactions["item_id"].value_counts().index[:3].tolist()
        assert [i["item_id"] for i in cold["items"]] == top

        bad = client.get(f"/v1/users/{user}/recommendations?k=1000")
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "k"]

        for other in data.interactions["user_id"].unique()[:40]:
            assert client.get(f"/v1/users/{other}/recommendations?k=10").status_code == 200

    with engine.connect() as conn:
        logged = conn.execute(
            text("SELECT items, features FROM served_requests WHERE request_id = :r"),
            {"r": body["request_id"]},
        ).one()
        total = conn.execute(
            text("SELECT count(*) FROM served_requests WHERE served_at >= :t"), {"t": started}
        ).scalar_one()
    assert logged.items == items and total == 42
    # The logged features are the online store's values for exactly those items.
    online = feature_store.get_online_features(
        features=["item_stats:interaction_count"],
        entity_rows=[{"item_id": i} for i in items],
    ).to_dict()["interaction_count"]
    assert [f["item_stats__interaction_count"] for f in logged.features["items"]] == online
    assert logged.features["user"]["user_stats__interaction_count"] == len(history)

    summary = build_drift_report(
        settings, engine, started, datetime.now(UTC) + timedelta(minutes=1)
    )
    assert summary.model_version == als.version and summary.current_rows == 7 + 40 * 10
    assert Path(summary.html_path).stat().st_size > 10_000 and Path(summary.json_path).is_file()
    assert summary.total_columns >= 8
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM drift_reports")).scalar_one() == 1


def test_the_api_switches_models_without_a_restart(pipeline, settings, engine) -> None:  # type: ignore[no-untyped-def]
    data, popularity, als = pipeline
    user = data.interactions["user_id"].iloc[0]
    url = f"/v1/users/{user}/recommendations?k=5"
    app_settings = settings.model_copy(update={"model_refresh_seconds": 0})
    with TestClient(create_app(app_settings)) as client:
        assert client.get(url).json()["model_version"] == als.version
        rolled_back = rollback(engine)
        assert rolled_back.version == popularity.version
        body = client.get(url).json()
        assert (body["model_version"], body["algorithm"]) == (popularity.version, "popularity")
        # A corrupt artifact is refused: the API keeps serving what it has.
        (Path(als.artifact_path) / "ranker.json").write_text("{}")
        with pytest.raises(ArtifactError):
            activate(engine, als.version)
        assert client.get(url).json()["model_version"] == popularity.version
