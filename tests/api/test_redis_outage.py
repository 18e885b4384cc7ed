"""Redis stopped under load: a live `recsys serve` on its own Redis (a real server the test starts,
loaded with the test stack's features by Feast, stopped and restarted mid-load) keeps answering
every request — degraded while Redis is away — and is back to full answers within 5 s of Redis
returning."""

from __future__ import annotations

import contextlib
import io
import random
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest

from recsys.config import Settings
from recsys.infra.embedded import EmbeddedRedis
from recsys.infra.feast_store import build_feature_store
from recsys.infra.services import resolve_endpoints
from tests.api.conftest import live_api

pytestmark = [pytest.mark.integration, pytest.mark.slow]
CLIENTS = 4


def _materialise_into(stack: Settings) -> None:
    """Feast materialises the test stack's features into the Redis of ``stack`` (a full range:
    the registry already records the shared Redis as up to date, so an incremental run would
    load nothing)."""
    store = build_feature_store(stack, resolve_endpoints(stack))
    with contextlib.redirect_stdout(io.StringIO()):
        store.materialize(start_date=datetime(2000, 1, 1, tzinfo=UTC), end_date=datetime.now(UTC))


@dataclass
class Answer:
    sent: float
    status: int  # 0: no HTTP answer at all
    degraded: bool
    seconds: float


def _load(base: str, users: list[str], stop: threading.Event, answers: list[Answer]) -> None:
    with httpx.Client(base_url=base, timeout=10) as http:
        while not stop.is_set():
            sent = time.monotonic()
            try:
                response = http.get(f"/v1/users/{random.choice(users)}/recommendations?k=10")
                degraded = response.status_code == 200 and response.json()["degraded"]
                status = response.status_code
                answers.append(Answer(sent, status, degraded, time.monotonic() - sent))
            except httpx.HTTPError:
                answers.append(Answer(sent, 0, False, time.monotonic() - sent))


def test_redis_stopped_under_load_degrades_then_recovers_within_5s(served, tmp_path) -> None:  # type: ignore[no-untyped-def]
    data, _, _, settings = served
    own = EmbeddedRedis(tmp_path)  # the embedded servers' redis-server, on a spare port
    stack = settings.model_copy(update={"redis_url": own.start()})
    _materialise_into(stack)
    users = [str(u) for u in data.interactions["user_id"].unique()[:100]]
    answers: list[Answer] = []
    stop = threading.Event()
    try:
        with live_api(stack) as api:
            clients = [
                threading.Thread(target=_load, args=(api.base, users, stop, answers))
                for _ in range(CLIENTS)
            ]
            for client in clients:
                client.start()
            time.sleep(2)
            stopping_at = time.monotonic()
            own.stop()  # its append-only file brings the features back on restart
            # gone from here: stopping waits for the process to exit, which takes a while on a
            # busy machine (answers in between were not degraded yet, and that is right)
            down_at = time.monotonic()
            time.sleep(3)
            restart_at = time.monotonic()
            assert own.start() == stack.redis_url  # the same port again
            up_at = time.monotonic()  # it answers pings from here
            time.sleep(7)
            stop.set()
            for client in clients:
                client.join(15)
    finally:
        stop.set()
        own.stop()

    failed = [a for a in answers if a.status != 200]
    assert not failed, f"{len(failed)} of {len(answers)} requests failed: {failed[:5]}"
    before = [a for a in answers if a.sent + a.seconds < stopping_at]  # before the stop
    during = [a for a in answers if down_at + 0.5 < a.sent < restart_at]
    late = [a for a in answers if a.sent > up_at + 5]
    assert before and not any(a.degraded for a in before)
    assert during and all(a.degraded for a in during), "answers while Redis was down"
    assert max(a.seconds for a in during) < 2, "a degraded answer took 2 s or more"
    assert late and not any(a.degraded for a in late), "still degraded 5 s after Redis returned"
