"""Items a user just interacted with, kept in Redis so the next recommendation leaves them out.

A model excludes the items it saw a user interact with; events stored since
(``POST /v1/events``) are news to it, so without this the item a user just clicked or rated
comes straight back in their next recommendation, until the next retraining.

The events route records each stored event's item in a per-user Redis set
(``recsys:<project>:recent:<user>``) that expires ``ttl_seconds`` after the user's latest event
(longer than the retraining cycle: by then the model has learnt them). A request reads the set
with one ``SMEMBERS`` on the online store's server, through a client whose every call is bounded
by the store timeout — the same bound as the user's online features, and nothing on the request
path waits on Postgres. When Redis does not answer, the request goes on without these items and
Redis is not asked again for ``retry_seconds``; a record that fails is logged (the event itself
is already durable in Postgres). Measured cost: ``benchmarks/serving.py`` (its last table).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

logger = logging.getLogger(__name__)

DAY_SECONDS = 86_400


class RecentItems:
    def __init__(
        self,
        client,  # noqa: ANN001 - redis.Redis or RedisCluster, with socket timeouts
        project: str,
        *,
        ttl_seconds: int = 30 * DAY_SECONDS,
        retry_seconds: float = 1.0,
    ) -> None:
        self._client = client
        self._prefix = f"recsys:{project}:recent:"
        self._ttl = int(ttl_seconds)
        self._retry_seconds = retry_seconds
        self._down_until = 0.0

    def key(self, user_id: str) -> str:
        return f"{self._prefix}{user_id}"

    def record(self, pairs: Iterable[tuple[str, str]]) -> bool:
        """Add (user, item) pairs; False (and logged) if Redis did not take them."""
        by_user: dict[str, set[str]] = {}
        for user_id, item_id in pairs:
            by_user.setdefault(user_id, set()).add(item_id)
        if not by_user:
            return True
        try:
            # one key per command: works the same on a single server and on a cluster
            pipe = self._client.pipeline(transaction=False)
            for user_id, items in by_user.items():
                pipe.sadd(self.key(user_id), *sorted(items))
                pipe.expire(self.key(user_id), self._ttl)
            pipe.execute()
            return True
        except Exception as exc:
            logger.warning("recent items not recorded (%s)", type(exc).__name__)
            return False

    def items(self, user_id: str) -> list[str]:
        """The user's recent items; empty while Redis does not answer."""
        if time.monotonic() < self._down_until:
            return []
        try:
            members = self._client.smembers(self.key(user_id))
        except Exception as exc:  # timeout, refused, cluster moved: answer without them
            self._down_until = time.monotonic() + self._retry_seconds
            logger.warning("recent items unavailable (%s)", type(exc).__name__)
            return []
        return sorted(m.decode() if isinstance(m, bytes) else str(m) for m in members)
