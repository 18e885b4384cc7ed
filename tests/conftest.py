"""Shared fixtures: real PostgreSQL and Redis for the integration tests.

- With RECSYS_DATABASE_URL and RECSYS_REDIS_URL set (CI, or your own servers) the tests create a
  fresh database on that PostgreSQL and a unique Feast project on that Redis, and remove both.
- With neither set they start the embedded servers in a temporary directory (still real servers).
- RECSYS_TESTS_REQUIRE_CONFIGURED=1 (set by .ci/run) makes missing URLs an error, and
  RECSYS_TESTS_FORBID_SKIPS=1 turns any skipped test into a failure: the store tests never skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from recsys.config import Settings
from recsys.infra.embedded import EmbeddedServers
from recsys.infra.endpoints import Endpoints

ML_LATEST_SMALL = Path(
    os.environ.get(
        "RECSYS_DATASET_PATH",
        str(Path(__file__).resolve().parents[2] / "shared" / "data" / "ml-latest-small"),
    )
)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("RECSYS_TESTS_FORBID_SKIPS") == "1" and report.skipped:
        report.outcome = "failed"
        report.longrepr = (
            f"skipped, but RECSYS_TESTS_FORBID_SKIPS=1 forbids skips: {report.longrepr}"
        )


def _admin_conninfo(endpoints: Endpoints) -> dict[str, object]:
    return {
        "host": endpoints.pg_host,
        "port": endpoints.pg_port,
        "user": endpoints.pg_user,
        "password": endpoints.pg_password or None,
        "dbname": endpoints.pg_database,
        "autocommit": True,
    }


@pytest.fixture(scope="session")
def server_endpoints(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoints]:
    """The servers under test: configured ones, or embedded ones started for this session."""
    database_url = os.environ.get("RECSYS_DATABASE_URL")
    redis_url = os.environ.get("RECSYS_REDIS_URL")
    if database_url and redis_url:
        yield Endpoints(database_url, redis_url)
        return
    if os.environ.get("RECSYS_TESTS_REQUIRE_CONFIGURED") == "1":
        pytest.fail("RECSYS_TESTS_REQUIRE_CONFIGURED=1 but RECSYS_DATABASE_URL/REDIS_URL unset")
    servers = EmbeddedServers(tmp_path_factory.mktemp("embedded"), database="postgres")
    endpoints = servers.start()
    yield endpoints
    servers.stop()


@pytest.fixture(scope="session")
def test_endpoints(server_endpoints: Endpoints) -> Iterator[Endpoints]:
    """A fresh database for this test session on the server under test, dropped afterwards."""
    name = f"recsys_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(**_admin_conninfo(server_endpoints)) as conn:  # type: ignore[arg-type]
        conn.execute(f'CREATE DATABASE "{name}"')
    yield server_endpoints.with_database(name)
    with psycopg.connect(**_admin_conninfo(server_endpoints)) as conn:  # type: ignore[arg-type]
        # and the evaluation database `recsys evaluate` keeps beside it (<name>_eval)
        for database in (name, f"{name}_eval"):
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@pytest.fixture(scope="session")
def settings(test_endpoints: Endpoints, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        database_url=test_endpoints.database_url,
        redis_url=test_endpoints.redis_url,
        feast_project=f"test_{uuid.uuid4().hex[:10]}",
        data_dir=tmp_path_factory.mktemp("data"),
        dataset_path=ML_LATEST_SMALL,
        reference_users=100,
        train_holdout=0,  # measured where a test asks for it: it doubles a training's cost
        log_features_every=1,
        log_json=False,  # pytest keeps its own log capture
        _env_file=None,
    )


@pytest.fixture(scope="session")
def engine(settings: Settings, test_endpoints: Endpoints):  # type: ignore[no-untyped-def]
    from recsys.db.migrate import upgrade
    from recsys.infra.database import create_db_engine

    engine = create_db_engine(test_endpoints)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def feature_store(settings: Settings, test_endpoints: Endpoints, engine):  # type: ignore[no-untyped-def]
    """Feast applied on the test database; its online data is torn down at the end."""
    from recsys.features.feast_ops import apply_definitions
    from recsys.infra.feast_store import build_feature_store

    apply_definitions(settings, test_endpoints)
    store = build_feature_store(settings, test_endpoints)
    yield store
    store.teardown()


@pytest.fixture(scope="session")
def serve_dataset(settings, engine, feature_store, test_endpoints):  # type: ignore[no-untyped-def]
    """A function that puts a dataset where the API reads it: into Postgres, its feature tables
    built, Feast applied and materialised into Redis (the session's, or those of the settings
    and endpoints given), the store's registry refreshed."""
    from recsys.data.loader import load_dataset
    from recsys.features.build import build_feature_tables
    from recsys.features.feast_ops import apply_definitions, materialize

    def serve(data, stack=None, endpoints=None) -> None:  # type: ignore[no-untyped-def]
        load_dataset(engine, data)
        build_feature_tables(engine)
        apply_definitions(stack or settings, endpoints or test_endpoints)
        materialize(stack or settings, endpoints or test_endpoints)
        feature_store.refresh_registry()

    return serve


@pytest.fixture(scope="session")
def redis_cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A six-node Redis Cluster on loopback ports for the session (started on first use)."""
    from tests.redis_cluster import redis_cluster

    with redis_cluster(tmp_path_factory.mktemp("redis-cluster")) as url:
        yield url


@pytest.fixture
def cli_env(settings, engine, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """The `recsys` command line pointed at the test servers, database and Feast project."""
    env = {
        "RECSYS_DATABASE_URL": settings.database_url,
        "RECSYS_REDIS_URL": settings.redis_url,
        "RECSYS_FEAST_PROJECT": settings.feast_project,
        "RECSYS_DATA_DIR": str(settings.data_dir),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env
