"""`recsys worker features`: consume the event stream, push the users' fresh features to Feast.

Each batch: read messages, recompute the features of every user they name (from Postgres, where
the events already are), push them to the online store, then acknowledge. A crash anywhere before
the acknowledgement leaves the messages pending, to be handled again (at least once; a push is a
recomputation, so doing it twice is harmless).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from recsys.ingest.stream import EventStream

logger = logging.getLogger(__name__)


@dataclass
class WorkerStats:
    batches: int = 0
    messages: int = 0
    users_pushed: int = 0
    failures: int = 0


class FeatureUpdateWorker:
    def __init__(
        self,
        stream: EventStream,
        push: Callable[[Iterable[str]], int],
        consumer: str,
        batch_size: int = 100,
        block_seconds: float = 1.0,
        linger_seconds: float = 0.2,
    ) -> None:
        self._stream, self._push, self.consumer = stream, push, consumer
        self._batch_size, self._block_seconds = batch_size, block_seconds
        self._linger_seconds = linger_seconds
        self.stats = WorkerStats()

    def run_once(self) -> int:
        """Handle one batch; returns how many messages it acknowledged."""
        messages = self._stream.read(self.consumer, self._batch_size, self._block_seconds)
        if not messages:
            return 0
        if len(messages) < self._batch_size and self._linger_seconds > 0:
            # Wait a moment for more: one recomputation and one push for many users costs little
            # more than for one (measured: 9,082 single-message batches for 11,964 events in a
            # 10-minute soak without this). Features lag events by at most this much more.
            time.sleep(self._linger_seconds)
            messages += self._stream.read(
                self.consumer, self._batch_size - len(messages), 0, new_only=True
            )
        users = {u for m in messages for u in m.user_ids}
        try:
            self.stats.users_pushed += self._push(users)
        except Exception:
            # not acknowledged: read again on the next round (e.g. Redis or Postgres was away)
            self.stats.failures += 1
            logger.exception("feature push failed for %d users; will retry", len(users))
            return 0
        self._stream.ack(messages)
        self.stats.batches += 1
        self.stats.messages += len(messages)
        return len(messages)

    def run(self, stop: threading.Event) -> WorkerStats:
        """Until ``stop`` is set (SIGTERM): the batch in hand is finished and acknowledged."""
        while not stop.is_set():
            failures = self.stats.failures
            self.run_once()
            if self.stats.failures > failures:
                stop.wait(1.0)  # a store is away: do not spin on it
        return self.stats
