"""The event stream the API writes to and feature-update workers read from.

One protocol, so the write path can scale apart from the read path on whichever log a team runs:
Redis Streams here (:mod:`recsys.ingest.redis_streams`); a Kafka implementation maps
``publish`` to a produce keyed by user, ``read`` to a consumer-group poll and ``ack`` to an offset
commit. Delivery is at least once: a message is acknowledged only after its users' features were
pushed, and pushing recomputes them from Postgres, so a message handled twice does no harm.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class StreamMessage:
    id: str  # the stream's own id (Redis: "<ms>-<seq>"; Kafka: "<partition>:<offset>")
    user_ids: tuple[str, ...]
    event_ids: tuple[str, ...]


class EventStream(Protocol):
    def publish(self, user_ids: Iterable[str], event_ids: Iterable[str]) -> str:
        """Announce stored events and the users they changed; returns the message id."""
        ...

    def read(
        self, consumer: str, count: int, block_seconds: float, new_only: bool = False
    ) -> list[StreamMessage]:
        """The next messages for this consumer of the group: first those it read before and never
        acknowledged (a restarted worker resumes them), then any another consumer left pending for
        too long, then new ones (waiting up to ``block_seconds``). ``new_only``: only new ones
        (topping up a batch already in hand)."""
        ...

    def ack(self, messages: Sequence[StreamMessage]) -> None:
        """Done with these messages: they are never delivered again."""
        ...

    def pending(self) -> int:
        """Messages delivered to a consumer and not yet acknowledged."""
        ...
