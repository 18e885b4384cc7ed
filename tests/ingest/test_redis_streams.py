"""The Redis stream's delivery guarantees, on the real Redis under test: messages read and never
acknowledged (a crashed worker) are delivered again — to the same consumer when it restarts, or
to another once they have been idle long enough — and never after acknowledgement."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from recsys.infra.endpoints import connect_redis
from recsys.ingest.redis_streams import RedisEventStream
from recsys.ingest.worker import FeatureUpdateWorker

pytestmark = pytest.mark.integration


@pytest.fixture
def stream(test_endpoints):  # type: ignore[no-untyped-def]
    client = connect_redis(test_endpoints)
    stream = RedisEventStream(client, stream=f"test:{uuid.uuid4().hex}", claim_idle_seconds=0.2)
    yield stream
    client.delete(stream.stream)


def test_unacknowledged_messages_come_back_after_a_crash(stream) -> None:  # type: ignore[no-untyped-def]
    sent = [stream.publish([f"u{i}"], [f"e{i}"]) for i in range(3)]
    first = stream.read("worker-a", count=2, block_seconds=0.1)
    assert [m.id for m in first] == sent[:2] and first[0].user_ids == ("u0",)
    # worker-a dies here: nothing acknowledged. Restarted under its name, it resumes them first.
    again = stream.read("worker-a", count=10, block_seconds=0.1)
    assert [m.id for m in again] == sent[:2]
    assert stream.pending() == 2
    # worker-a never comes back: once idle long enough, worker-b claims its messages
    time.sleep(0.3)
    claimed = stream.read("worker-b", count=10, block_seconds=0.1)
    assert [m.id for m in claimed] == sent[:2]
    stream.ack(claimed)
    rest = stream.read("worker-b", count=10, block_seconds=0.1)
    assert [m.id for m in rest] == sent[2:]
    stream.ack(rest)
    assert stream.pending() == 0
    assert stream.read("worker-a", count=10, block_seconds=0.1) == []  # none delivered twice


def test_a_failed_push_leaves_the_batch_pending_and_the_next_round_retries(stream) -> None:  # type: ignore[no-untyped-def]
    stream.publish(["u1", "u2"], ["e1"])
    stream.publish(["u2", "u3"], ["e2"])
    calls: list[set[str]] = []

    def push(users) -> int:  # type: ignore[no-untyped-def]
        calls.append(set(users))
        if len(calls) == 1:
            raise ConnectionError("online store away")
        return len(set(users))

    worker = FeatureUpdateWorker(stream, push, "w", batch_size=10, block_seconds=0.1)
    assert worker.run_once() == 0 and stream.pending() == 2  # failed: not acknowledged
    assert worker.run_once() == 2 and stream.pending() == 0
    assert calls == [{"u1", "u2", "u3"}] * 2  # one push per batch, users deduplicated
    assert (worker.stats.failures, worker.stats.users_pushed) == (1, 3)


def test_a_batch_lingers_for_more_messages_and_pushes_them_once(stream) -> None:  # type: ignore[no-untyped-def]
    pushes: list[set[str]] = []
    worker = FeatureUpdateWorker(
        stream, lambda users: pushes.append(set(users)) or len(pushes[-1]), "w",
        batch_size=10, block_seconds=0.1, linger_seconds=1.0,
    )  # fmt: skip
    stream.publish(["u1"], ["e1"])
    late = threading.Timer(0.2, lambda: [stream.publish([u], [u]) for u in ("u2", "u3")])
    late.start()
    assert worker.run_once() == 3  # the two that arrived while it lingered came along
    late.join()
    assert pushes == [{"u1", "u2", "u3"}] and stream.pending() == 0
