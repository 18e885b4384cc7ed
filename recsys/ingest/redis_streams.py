"""The event stream on Redis Streams: one stream, one consumer group of feature-update workers.

Messages survive a worker crash: Redis keeps every delivered, unacknowledged message in the
group's pending list. A worker starting under the same name reads its own pending messages again
first; messages left by a worker that never comes back are claimed by the others after
``claim_idle_seconds`` (XAUTOCLAIM).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import redis

from recsys.config import Settings
from recsys.infra.endpoints import Endpoints, connect_redis
from recsys.ingest.stream import StreamMessage


class RedisEventStream:
    def __init__(
        self,
        client: redis.Redis,
        stream: str = "recsys:events",
        group: str = "feature-updaters",
        max_length: int = 1_000_000,
        claim_idle_seconds: float = 60.0,
    ) -> None:
        self._redis = client
        self.stream, self.group = stream, group
        self._max_length = max_length
        self._claim_idle_ms = int(claim_idle_seconds * 1000)

    def ensure_group(self) -> None:
        """Create the stream and the group (reading from the stream's start) if missing."""
        try:
            self._redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def publish(self, user_ids: Iterable[str], event_ids: Iterable[str]) -> str:
        fields = {"users": "\n".join(sorted(set(user_ids))), "events": "\n".join(event_ids)}
        # Approximate trimming keeps the stream bounded at O(1) cost; a worker far enough behind
        # to lose messages this way still has every event in Postgres (the next build).
        message_id = self._redis.xadd(
            self.stream, fields, maxlen=self._max_length, approximate=True
        )
        return _text(message_id)

    def read(
        self, consumer: str, count: int, block_seconds: float, new_only: bool = False
    ) -> list[StreamMessage]:
        self.ensure_group()
        if not new_only:
            # 1. this consumer's own pending messages (a restart under its name resumes them)
            mine = self._redis.xreadgroup(self.group, consumer, {self.stream: "0"}, count=count)
            if messages := _messages(mine):
                return messages
            # 2. messages another consumer read and left unacknowledged for too long
            _, claimed, *_ = self._redis.xautoclaim(
                self.stream, self.group, consumer, self._claim_idle_ms, start_id="0-0", count=count
            )
            if messages := [_message(i, f) for i, f in claimed if f]:
                return messages
        # 3. new messages
        new = self._redis.xreadgroup(
            self.group, consumer, {self.stream: ">"}, count=count,
            block=max(1, int(block_seconds * 1000)),
        )  # fmt: skip
        return _messages(new)

    def ack(self, messages: Sequence[StreamMessage]) -> None:
        if messages:
            self._redis.xack(self.stream, self.group, *[m.id for m in messages])

    def pending(self) -> int:
        try:
            return int(self._redis.xpending(self.stream, self.group)["pending"])
        except redis.ResponseError:  # no stream or group yet
            return 0


def _messages(reply) -> list[StreamMessage]:  # noqa: ANN001 - redis-py's nested reply
    return [_message(i, f) for _, entries in reply or [] for i, f in entries if f]


def _message(message_id, fields) -> StreamMessage:  # noqa: ANN001
    fields = {_text(k): _text(v) for k, v in fields.items()}
    return StreamMessage(
        id=_text(message_id),
        user_ids=tuple(u for u in fields.get("users", "").split("\n") if u),
        event_ids=tuple(e for e in fields.get("events", "").split("\n") if e),
    )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def event_stream(settings: Settings, endpoints: Endpoints, timeout: float | None = None):  # noqa: ANN201
    """The configured stream: on the online store's Redis (or cluster), one per Feast project."""
    return RedisEventStream(
        connect_redis(endpoints, timeout),
        stream=f"recsys:{settings.feast_project}:events",
        claim_idle_seconds=settings.event_claim_idle_seconds,
    )
