"""A registered version the API cannot load (its artifact corrupt) is a clear answer, never a
500: asked for by number, 409 naming `model`; as an experiment arm, the active version serves
instead; as the active version of a fresh process, 503 saying why (real stores)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from api.app import create_app
from recsys.db.models import Model
from recsys.serving.experiments import ExperimentConfig
from recsys.training.registry import activate
from recsys.training.train import train_model

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def broken(served, settings, engine, feature_store):  # type: ignore[no-untyped-def]
    """An inactive popularity version whose ranker.json no longer matches its checksum."""
    row = train_model(settings, engine, feature_store, "popularity", activate=False)
    with (Path(row.artifact_path) / "ranker.json").open("a") as fh:
        fh.write(" ")
    return row


def test_asking_for_a_corrupt_version_is_a_409_naming_model(served, broken, client) -> None:  # type: ignore[no-untyped-def]
    user = served[0].interactions["user_id"].iloc[0]
    for _ in range(2):  # the same answer twice (the second from the remembered failure)
        got = client.get(f"/v1/users/{user}/recommendations", params={"model": broken.version})
        assert got.status_code == 409, got.text
        detail = got.json()["detail"]
        assert detail.startswith(f"model: version {broken.version} cannot be served")
        assert "checksum" in detail
        assert broken.artifact_path not in detail  # the server's paths are not the client's
    ranked = client.post(
        "/v1/rank", json={"user_id": user, "candidates": ["1", "2"], "model": broken.version}
    )
    assert ranked.status_code == 409 and ranked.json()["detail"].startswith("model: ")


def test_a_corrupt_experiment_arm_serves_the_active_version(served, broken) -> None:  # type: ignore[no-untyped-def]
    data, _, lgbm, app_settings = served
    everyone_on_it = ExperimentConfig(weights={broken.version: 1.0}, salt="broken")
    settings = app_settings.model_copy(update={"experiment": everyone_on_it})
    with TestClient(create_app(settings)) as c:
        body = c.get(f"/v1/users/{data.interactions['user_id'].iloc[0]}/recommendations").json()
        assert (body["model_version"], body["variant"]) == (lgbm.version, "active")
        ready = c.get("/readyz").json()
        assert ready["status"] == "ready"
        reason = ready["checks"][f"model_version_{broken.version}"]
        assert f"version {broken.version} cannot be served" in reason
        assert broken.artifact_path not in reason


def test_a_fresh_api_whose_active_version_is_corrupt_says_why(served, broken, engine) -> None:  # type: ignore[no-untyped-def]
    data, _, lgbm, app_settings = served
    with engine.begin() as conn:  # what a hand edit of the registry would do; activate() refuses
        conn.execute(update(Model).values(is_active=False))  # two steps: one active at most
        conn.execute(update(Model).where(Model.version == broken.version).values(is_active=True))
    try:
        with TestClient(create_app(app_settings)) as c:
            user = data.interactions["user_id"].iloc[0]
            got = c.get(f"/v1/users/{user}/recommendations")
            assert got.status_code == 503
            assert "no model can be served" in got.json()["detail"]
            assert "checksum" in got.json()["detail"]
            assert broken.artifact_path not in got.json()["detail"]
            assert "recsys models rollback" in got.json()["detail"]
            assert c.get("/readyz").status_code == 503
    finally:
        activate(engine, lgbm.version)
