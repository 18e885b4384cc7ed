"""The served stack for the API tests: synthetic data in Postgres, features in Redis, an ALS
version and an active LightGBM version (module-scoped per test module)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from recsys.config import Settings
from recsys.data.synthetic import SyntheticConfig, generate_synthetic
from recsys.infra.embedded import _free_port
from recsys.infra.feast_store import build_feature_store
from recsys.infra.services import resolve_endpoints
from recsys.training.train import train_model

KEY = "test-admin-key"


@pytest.fixture(scope="module", params=["redis"])
def served(request, settings, engine, feature_store, serve_dataset):  # type: ignore[no-untyped-def]
    """Synthetic data in Postgres, features in Redis, ALS (v_als) and LightGBM (active).

    Parametrised by the online store: ``"redis"`` (one server) by default; a module that
    parametrises ``served`` indirectly with ``"redis_cluster"`` also runs on a six-node Redis
    Cluster (its own Feast project, materialised into the cluster)."""
    data = generate_synthetic(SyntheticConfig(n_users=400, n_items=300, seed=5))
    if request.param == "redis_cluster":
        settings = settings.model_copy(
            update={
                "redis_url": request.getfixturevalue("redis_cluster_url"),
                "redis_cluster": True,
                "feast_project": f"{settings.feast_project}_cluster",
            }
        )
        endpoints = resolve_endpoints(settings)
        serve_dataset(data, settings, endpoints)
        feature_store = build_feature_store(settings, endpoints)
    else:
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


@dataclass
class LiveApi:
    base: str
    process: subprocess.Popen
    log: Path  # the server's output, for a failing test's diagnosis


@contextmanager
def live_api(settings: Settings, workers: int = 1, **env: str) -> Iterator[LiveApi]:
    """`recsys serve` in its own process on a spare port, on the stores of ``settings``, ready
    (``/readyz`` 200) before it is yielded; stopped with SIGTERM afterwards. ``env`` adds
    ``RECSYS_*`` settings (e.g. ``RECSYS_SHUTDOWN_GRACE_SECONDS="2"``)."""
    port = _free_port()
    environment = {
        **os.environ,
        "RECSYS_DATABASE_URL": settings.database_url,
        "RECSYS_REDIS_URL": settings.redis_url,
        "RECSYS_FEAST_PROJECT": settings.feast_project,
        "RECSYS_DATA_DIR": str(settings.data_dir),
        "RECSYS_API_KEYS": f'["{KEY}"]',
        "RECSYS_LOG_LEVEL": "WARNING",
        "RECSYS_SHUTDOWN_GRACE_SECONDS": "0",
        **env,
    }
    recsys = Path(sys.executable).with_name("recsys")
    log = settings.data_dir / f"api-{port}.log"
    process = subprocess.Popen(
        [str(recsys), "serve", "--port", str(port), "--workers", str(workers)],
        env=environment, stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, "the API exited while starting"
            assert time.monotonic() < deadline, "the API was not ready within 120 s"
            time.sleep(0.3)
        yield LiveApi(base, process, log)
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(60)
