"""The items of a user's recent events, in the online store's Redis (real servers): what a
request reads, that keys expire, and that a Redis that does not answer costs a request at most
the store timeout, then nothing for the retry period."""

from __future__ import annotations

import socket
import threading
import time
import uuid

import pytest

from recsys.infra.endpoints import connect_redis
from recsys.infra.services import resolve_endpoints
from recsys.serving.recent import RecentItems

pytestmark = pytest.mark.integration


@pytest.fixture
def recent(settings):  # type: ignore[no-untyped-def]
    client = connect_redis(resolve_endpoints(settings), 0.25)
    items = RecentItems(client, f"test_{uuid.uuid4().hex[:8]}", ttl_seconds=60, retry_seconds=30)
    yield items, client
    client.delete(items.key("u1"), items.key("u2"))


def test_recorded_items_are_read_back_per_user_and_expire(recent) -> None:  # type: ignore[no-untyped-def]
    items, client = recent
    assert items.record([("u1", "a"), ("u1", "b"), ("u2", "c"), ("u1", "a")])
    assert items.items("u1") == ["a", "b"] and items.items("u2") == ["c"]
    assert items.items("nobody") == []
    assert 0 < client.ttl(items.key("u1")) <= 60


@pytest.fixture
def silent_server():  # type: ignore[no-untyped-def]
    """A TCP server that accepts connections and never answers (a stalled Redis)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_a_stalled_redis_costs_a_request_the_timeout_then_nothing(silent_server) -> None:  # type: ignore[no-untyped-def]
    from recsys.infra.endpoints import Endpoints

    stalled = Endpoints(
        database_url="postgresql://unused", redis_url=f"redis://127.0.0.1:{silent_server}/0"
    )
    client = connect_redis(stalled, 0.25)  # as the API builds it
    items = RecentItems(client, "stalled", retry_seconds=30)
    started = time.perf_counter()
    assert items.items("u1") == []
    waited = time.perf_counter() - started
    started = time.perf_counter()
    assert items.items("u1") == []  # not asked again within retry_seconds
    skipped = time.perf_counter() - started
    assert not items.record([("u1", "a")])  # refused, logged, nothing raised
    # a 0.25 s socket timeout: these bounds only tell it from waiting forever
    assert waited < 2 and skipped < 0.1, (waited, skipped)
