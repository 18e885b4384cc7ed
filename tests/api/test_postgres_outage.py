"""PostgreSQL stopped under the API (its own server, started and stopped by the test): events
answer 503 and never a 2xx without a durable row, recommendations keep answering (a ranker asked
for by name too), and after
recovery every event that got a 2xx is in Postgres."""

from __future__ import annotations

import time
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import bindparam, text

from api.app import create_app
from recsys.config import Settings
from recsys.data.loader import load_dataset
from recsys.data.synthetic import SyntheticConfig, generate_synthetic
from recsys.db.migrate import upgrade
from recsys.features.build import build_feature_tables
from recsys.features.feast_ops import apply_definitions, materialize
from recsys.infra.database import create_db_engine
from recsys.infra.embedded import EmbeddedPostgres
from recsys.infra.feast_store import build_feature_store
from recsys.infra.services import resolve_endpoints
from recsys.training.train import train_model

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def own_stack(settings, tmp_path_factory):  # type: ignore[no-untyped-def]
    postgres = EmbeddedPostgres(tmp_path_factory.mktemp("outage"), "recsys")
    url = postgres.start()
    stack = Settings(
        database_url=url, redis_url=settings.redis_url,
        feast_project=f"outage_{uuid.uuid4().hex[:8]}", data_dir=tmp_path_factory.mktemp("d"),
        reference_users=50, log_json=False, model_refresh_seconds=0, _env_file=None,
    )  # fmt: skip
    endpoints = resolve_endpoints(stack)
    engine = create_db_engine(endpoints)
    upgrade(engine)
    data = generate_synthetic(SyntheticConfig(n_users=100, n_items=80, seed=9))
    load_dataset(engine, data)
    build_feature_tables(engine)
    apply_definitions(stack, endpoints)
    materialize(stack, endpoints)
    store = build_feature_store(stack, endpoints)
    train_model(stack, engine, store, "popularity", activate=False)  # asked for by name below
    train_model(stack, engine, store, "als", {"factors": 8})
    yield postgres, stack, engine, data
    engine.dispose()
    try:
        store.teardown()
    finally:
        postgres.stop()


def test_events_are_refused_while_postgres_is_down_and_none_is_lost(own_stack) -> None:  # type: ignore[no-untyped-def]
    postgres, stack, engine, data = own_stack
    user = str(data.interactions["user_id"].iloc[0])
    item = str(data.items["item_id"].iloc[0])
    accepted: list[str] = []

    def send(client: TestClient) -> int:
        event_id = f"outage-{uuid.uuid4()}"
        event = {"event_id": event_id, "user_id": user, "item_id": item, "event_type": "view"}
        status = client.post("/v1/events", json={"events": [event]}).status_code
        if 200 <= status < 300:
            accepted.append(event_id)
        return status

    with TestClient(create_app(stack)) as client:
        assert send(client) == 202
        url = f"/v1/users/{user}/recommendations?k=5&algorithm=popularity"
        popularity = client.get(url).json()["model_version"]
        postgres.stop()
        try:
            during = [send(client) for _ in range(5)]
            assert during == [503] * 5  # never a 2xx without a durable row
            served = client.get(f"/v1/users/{user}/recommendations?k=5")
            assert served.status_code == 200 and len(served.json()["items"]) == 5
            # a ranker asked for by name keeps the version the registry named before
            by_name = client.get(f"/v1/users/{user}/recommendations?k=5&algorithm=popularity")
            assert by_name.status_code == 200, by_name.text
            assert by_name.json()["model_version"] == popularity
        finally:
            postgres.start()
        deadline = time.monotonic() + 15
        while send(client) != 202:
            assert time.monotonic() < deadline, "events did not recover after Postgres returned"
            time.sleep(0.2)
    with engine.connect() as conn:
        stored = conn.execute(
            text("SELECT count(*) FROM events WHERE event_id IN :ids").bindparams(
                bindparam("ids", expanding=True)
            ),
            {"ids": accepted},
        ).scalar_one()
    assert len(accepted) >= 2 and stored == len(accepted)
