"""Events through the stream (RECSYS_EVENT_INGESTION=stream), on real Postgres, Redis and Feast:
the API stores them and announces the users; a `recsys worker features` process pushes their
fresh features, which the next recommendation sees. A worker that read a message and died before
acknowledging it loses nothing: restarted under its name, it handles the message."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from recsys.infra.services import resolve_endpoints
from recsys.ingest.redis_streams import event_stream
from tests.api.conftest import KEY

pytestmark = [pytest.mark.integration, pytest.mark.slow]
COUNT = "user_stats__interaction_count"


def _count(client: TestClient, user: str) -> float:
    body = client.get(f"/v1/users/{user}/recommendations?k=1&explain=true").json()
    return body["items"][0]["explanation"]["features"][COUNT]


def _click(client: TestClient, user: str, item: str) -> dict:
    batch = {"events": [{"event_id": f"e-{uuid.uuid4()}", "user_id": user, "item_id": item,
                         "event_type": "click"}]}  # fmt: skip
    response = client.post("/v1/events", json=batch, headers={"X-API-Key": KEY})
    assert response.status_code == 202
    return response.json()


def _wait_for(predicate, seconds: float = 60) -> None:  # noqa: ANN001
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.2)


def test_event_reaches_online_features_through_the_stream_across_a_worker_crash(served) -> None:  # type: ignore[no-untyped-def]
    data, *_, app_settings = served
    stack = app_settings.model_copy(update={"event_ingestion": "stream"})
    stream = event_stream(stack, resolve_endpoints(stack))
    stream._redis.delete(stream.stream)
    first, second = (str(u) for u in data.interactions["user_id"].unique()[3:5])
    item = str(data.items["item_id"].iloc[0])
    env = {
        **os.environ,
        "RECSYS_DATABASE_URL": stack.database_url,
        "RECSYS_REDIS_URL": stack.redis_url,
        "RECSYS_REDIS_CLUSTER": str(stack.redis_cluster).lower(),
        "RECSYS_FEAST_PROJECT": stack.feast_project,
        "RECSYS_DATA_DIR": str(stack.data_dir),
    }
    recsys = str(Path(sys.executable).with_name("recsys"))
    with TestClient(create_app(stack)) as client:
        before = _count(client, first)
        answer = _click(client, first, item)
        assert (answer["stored"], answer["features_queued"], answer["features_pushed"]) == (
            1, True, False,
        )  # fmt: skip
        assert _count(client, first) == before  # no worker yet: the online value is unchanged

        # A worker reads the message and dies before pushing or acknowledging it.
        taken = stream.read("worker-a", count=10, block_seconds=1)
        assert [m.user_ids for m in taken] == [(first,)]

        # Restarted under the same name, the worker handles it; then a new event, live.
        worker = subprocess.Popen(
            [recsys, "worker", "features", "--consumer", "worker-a"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        try:
            _wait_for(lambda: _count(client, first) == before + 1)
            before_second = _count(client, second)
            _click(client, second, item)
            _wait_for(lambda: _count(client, second) == before_second + 1)
        finally:
            worker.send_signal(signal.SIGTERM)
            output, _ = worker.communicate(timeout=60)
        assert worker.returncode == 0, output
        assert "2 messages" in output, output
    assert stream.pending() == 0
    stream._redis.delete(stream.stream)
