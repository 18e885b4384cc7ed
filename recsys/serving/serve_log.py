"""The serve log, written off the response path: a bounded queue drained in batches by one
thread. A full queue drops the row and counts it (the response never waits on Postgres);
:meth:`ServeLogWriter.close` drains everything queued before the process exits."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, insert

from recsys.db.models import ServedRequest

logger = logging.getLogger(__name__)
_STOP = object()


class ServeLogWriter:
    def __init__(
        self,
        engine: Engine,
        *,
        max_queue: int = 10_000,
        batch_size: int = 500,
        flush_seconds: float = 0.2,
        on_drop: Callable[[], None] = lambda: None,
    ) -> None:
        self._engine = engine
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max_queue)
        self._batch_size = batch_size
        self._flush_seconds = flush_seconds
        self._on_drop = on_drop
        self.written = 0
        self.dropped = 0
        self.failed = 0
        self._thread = threading.Thread(target=self._run, name="serve-log", daemon=True)
        self._thread.start()

    def submit(self, row: dict[str, Any]) -> None:
        try:
            self._queue.put_nowait(row)
        except queue.Full:
            self.dropped += 1
            self._on_drop()

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    def close(self, timeout: float = 30.0) -> None:
        """Write everything queued, then stop the thread."""
        self._queue.put(_STOP)
        self._thread.join(timeout)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch: list[dict[str, Any]] = []
            deadline = time.monotonic() + self._flush_seconds
            while len(batch) < self._batch_size:
                try:
                    item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if item is _STOP:
                    stopping = True
                    break
                batch.append(item)
            if batch:
                self._write(batch)

    def _write(self, batch: list[dict[str, Any]]) -> None:
        for attempt in range(3):
            try:
                with self._engine.begin() as conn:
                    conn.execute(insert(ServedRequest), batch)
                self.written += len(batch)
                return
            except Exception:  # Postgres away: retry a little, then give the batch up, loudly
                logger.exception("serve log: writing %d rows failed (try %d)", len(batch), attempt)
                time.sleep(0.5 * (attempt + 1))
        self.failed += len(batch)
