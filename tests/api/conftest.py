"""The served stack for the API tests: synthetic data in Postgres, features in Redis, an ALS
version and an active LightGBM version (module-scoped per test module)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from recsys.data.synthetic import SyntheticConfig, generate_synthetic
from recsys.training.train import train_model

KEY = "test-admin-key"


@pytest.fixture(scope="module")
def served(settings, engine, feature_store, serve_dataset):  # type: ignore[no-untyped-def]
    """Synthetic data in Postgres, features in Redis, ALS (v_als) and LightGBM (active)."""
    data = generate_synthetic(SyntheticConfig(n_users=400, n_items=300, seed=5))
    serve_dataset(data)
    als = train_model(settings, engine, feature_store, "als", {"factors": 16})
    lgbm = train_model(settings, engine, feature_store, "lightgbm", {"n_estimators": 30})
    app_settings = settings.model_copy(
        update={"api_keys": [SecretStr(KEY)], "model_refresh_seconds": 0}
    )
    return data, als, lgbm, app_settings


@pytest.fixture
def client(served):  # type: ignore[no-untyped-def]
    with TestClient(create_app(served[3])) as c:
        yield c
