"""The models being served: the registry's active version (reloaded when it changes) and any
version asked for by name (an experiment arm, a shadow, a `model=` override)."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from recsys.db.models import Model
from recsys.ranking import Ranker, load_ranker
from recsys.training.registry import (
    active_model,
    artifact_item_ids,
    verify_artifact,
    verify_catalogue,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServedModel:
    version: int
    algorithm: str
    feature_service: str
    ranker: Ranker
    #: the latest interaction the model was trained on (None: unknown, for old registry rows)
    trained_until: datetime | None = None
    #: when training read its data: events received later are news to it, whatever their date
    trained_at: datetime | None = None

    @classmethod
    def from_row(cls, row: Model, ranker: Ranker) -> ServedModel:
        # rows registered before data_read_at was recorded: their registration time
        read_at = row.data_read_at or row.created_at
        return cls(row.version, row.algorithm, row.feature_service, ranker, row.train_end, read_at)


class UnknownModelError(LookupError):
    """No registered version with that number."""


class RegistryUnavailableError(RuntimeError):
    """The model registry (Postgres) did not answer."""


class ModelLoadError(RuntimeError):
    """A registered version that cannot be served: its artifact is missing, corrupt or written
    by a ranker that is not installed here."""


class ActiveModelHolder:
    """Keeps the active model in memory; checks the registry at most every ``refresh_seconds``.

    A version whose artifact is missing or corrupt is refused: the one already loaded keeps
    serving and the error is kept for /readyz and the logs. Other versions are loaded on first
    use and kept (a few at most: experiments compare two or three).
    """

    def __init__(self, engine: Engine, refresh_seconds: float = 5.0) -> None:
        self._engine = engine
        self._refresh_seconds = refresh_seconds
        self._lock = threading.Lock()
        self._current: ServedModel | None = None
        self._checked_at = float("-inf")
        self._by_version: dict[int, ServedModel] = {}
        # version → (when, why) it could not be served: asked again within the retry period,
        # the same answer, without re-reading the registry or re-hashing the artifact each time
        self._failed: dict[int, tuple[float, UnknownModelError | ModelLoadError]] = {}
        self._retry_seconds = max(refresh_seconds, 1.0)
        # (version, artifact checksum) of an active row that was refused: not reloaded until
        # the row changes (a bad artifact or another catalogue stays bad)
        self._refused: tuple[int, str] | None = None
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

    def version(self, version: int) -> ServedModel:
        """A specific registered version (loaded once, then kept). Raises
        :class:`UnknownModelError`, :class:`ModelLoadError` (both remembered for a while) or
        :class:`RegistryUnavailableError`."""
        current = self._current
        if current is not None and current.version == version:
            return current
        if version in self._by_version:
            return self._by_version[version]
        failed = self._failed.get(version)
        if failed is not None and time.monotonic() - failed[0] < self._retry_seconds:
            raise failed[1]
        try:
            with Session(self._engine) as session:
                row = session.scalar(select(Model).where(Model.version == version))
        except Exception as exc:
            raise RegistryUnavailableError(
                f"the model registry is unavailable ({type(exc).__name__})"
            ) from exc
        error: UnknownModelError | ModelLoadError
        if row is None:
            error = UnknownModelError(f"no model version {version}")
            self._failed[version] = (time.monotonic(), error)
            raise error
        try:
            ranker = self._load(row)
        except Exception as exc:
            error = ModelLoadError(f"version {version} cannot be served: {exc}")
            self._failed[version] = (time.monotonic(), error)
            logger.warning("%s", error)
            raise error from exc
        self._failed.pop(version, None)
        served = ServedModel.from_row(row, ranker)
        self._by_version[version] = served
        return served

    def version_errors(self) -> dict[int, str]:
        """Why each version asked for by number or by an experiment arm last failed to load (a
        version drops out once it loads)."""
        return {version: str(error) for version, (_, error) in self._failed.items()}

    def loaded(self) -> list[ServedModel]:
        models = {m.version: m for m in self._by_version.values()}
        if self._current is not None:
            models[self._current.version] = self._current
        return list(models.values())

    def _reload(self) -> None:
        try:
            row = active_model(self._engine)
        except Exception as exc:  # Postgres away: keep serving what is loaded
            self.last_error = f"model registry unavailable: {type(exc).__name__}"
            return
        if row is None or (self._current is not None and self._current.version == row.version):
            return
        if self._refused == (row.version, row.artifact_sha256):
            return  # refused already; last_error says why
        try:
            ranker = self._load(row)
        except Exception as exc:  # refuse the new version, keep serving the old one
            self.last_error = str(exc)
            self._refused = (row.version, row.artifact_sha256)
            logger.warning("active model version %s refused: %s", row.version, exc)
            return
        self.last_error = None
        self._refused = None
        self._current = ServedModel.from_row(row, ranker)

    def _load(self, row: Model) -> Ranker:
        """The version's ranker: its artifact intact and its items those of this catalogue
        (a version made active by hand, bypassing ``activate``, is checked here too; the
        items first, which reads one array instead of the whole artifact)."""
        directory = verify_artifact(row)
        verify_catalogue(self._engine, row, artifact_item_ids(directory))
        return load_ranker(directory)
