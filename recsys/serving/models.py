"""The model being served: the registry's active version, reloaded when it changes."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from sqlalchemy import Engine

from recsys.ranking import Ranker
from recsys.training.registry import active_model, load_model


@dataclass(frozen=True)
class ServedModel:
    version: int
    algorithm: str
    feature_service: str
    ranker: Ranker


class ActiveModelHolder:
    """Keeps the active model in memory; checks the registry at most every ``refresh_seconds``.

    A version whose artifact is missing or corrupt is refused: the one already loaded keeps
    serving and the error is kept for /readyz and the logs.
    """

    def __init__(self, engine: Engine, refresh_seconds: float = 5.0) -> None:
        self._engine = engine
        self._refresh_seconds = refresh_seconds
        self._lock = threading.Lock()
        self._current: ServedModel | None = None
        self._checked_at = float("-inf")
        self.last_error: str | None = None

    def get(self) -> ServedModel | None:
        now = time.monotonic()
        if now - self._checked_at >= self._refresh_seconds and self._lock.acquire(blocking=False):
            try:
                self._checked_at = now
                self._reload()
            finally:
                self._lock.release()
        return self._current

    def _reload(self) -> None:
        row = active_model(self._engine)
        if row is None or (self._current is not None and self._current.version == row.version):
            return
        try:
            ranker = load_model(row)
        except Exception as exc:  # refuse the new version, keep serving the old one
            self.last_error = str(exc)
            return
        self.last_error = None
        self._current = ServedModel(row.version, row.algorithm, row.feature_service, ranker)
