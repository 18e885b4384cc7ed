"""The models being served: the registry's active version (reloaded when it changes) and any
version asked for by number (an experiment arm, a shadow, a `model=` override) or by ranker name
(an `algorithm=` override)."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from contextlib import suppress
from dataclasses import dataclass

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from recsys.db.models import Model
from recsys.ranking import Ranker, load_ranker
from recsys.training.registry import (
    ArtifactError,
    UnservableModelError,
    active_model,
    artifact_item_ids,
    verify_artifact,
    verify_catalogue,
    verify_ranker,
)

logger = logging.getLogger(__name__)

#: Failed versions remembered at once (the oldest are forgotten first).
MAX_REMEMBERED = 64
#: Versions other than the active one kept loaded (the least recently asked for is dropped):
#: experiment arms and shadows are asked for all the time, and `algorithm=` follows each new
#: version of a ranker, which would otherwise keep every earlier one in memory.
MAX_LOADED = 8


@dataclass(frozen=True)
class ServedModel:
    version: int
    algorithm: str
    feature_service: str
    ranker: Ranker

    @classmethod
    def from_row(cls, row: Model, ranker: Ranker) -> ServedModel:
        return cls(row.version, row.algorithm, row.feature_service, ranker)


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
        self._by_version: OrderedDict[int, ServedModel] = OrderedDict()
        # version → (when, why) it could not be served: asked again within the retry period,
        # the same answer, without re-reading the registry or re-hashing the artifact each time
        # (at most MAX_REMEMBERED: a client can ask for any number)
        self._failed: dict[int, tuple[float, UnknownModelError | ModelLoadError]] = {}
        self._retry_seconds = max(refresh_seconds, 1.0)
        self._registry_down_until = 0.0
        # ranker name → (when, its newest version or None): asked by name, the registry is read
        # at most once per refresh period, as for the active version
        self._newest: dict[str, tuple[float, int | None]] = {}
        # (version, checksum, activated_at) of an active row refused for good (a bad artifact,
        # another catalogue): not reloaded until the row changes or is activated again
        self._refused: tuple[int, str, object] | None = None
        self._load_error: str | None = None  # why the active row is not the one served
        self._registry_error: str | None = None  # while the registry does not answer

    @property
    def last_error(self) -> str | None:
        """Why the registry's active version is not (or may not be) what is served."""
        return self._registry_error or self._load_error

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
        :class:`RegistryUnavailableError` (the registry is not asked again for a while)."""
        current = self._current
        if current is not None and current.version == version:
            return current
        served = self._by_version.get(version)
        if served is not None:
            with suppress(KeyError):  # most recently used last; another thread may have dropped it
                self._by_version.move_to_end(version)
            return served
        now = time.monotonic()
        failed = self._failed.get(version)
        if failed is not None and now - failed[0] < self._retry_seconds:
            raise type(failed[1])(str(failed[1]))  # a fresh one: no traceback piles up
        if now < self._registry_down_until:
            raise RegistryUnavailableError("the model registry is unavailable")
        try:
            with Session(self._engine) as session:
                row = session.scalar(select(Model).where(Model.version == version))
        except Exception as exc:
            self._registry_down_until = now + self._retry_seconds
            raise RegistryUnavailableError(
                f"the model registry is unavailable ({type(exc).__name__})"
            ) from exc
        if row is None:
            error: UnknownModelError | ModelLoadError = UnknownModelError(
                f"no model version {version}"
            )
            self._remember(version, error)
            raise error
        try:
            ranker = self._load(row)
        except Exception as exc:
            error = ModelLoadError(f"version {version} cannot be served: {exc}")
            self._remember(version, error)
            where = f" ({exc.path})" if isinstance(exc, ArtifactError) else ""
            logger.warning("%s%s", error, where)
            raise error from exc
        self._failed.pop(version, None)
        served = ServedModel.from_row(row, ranker)
        self._by_version[version] = served
        while len(self._by_version) > MAX_LOADED:
            try:
                self._by_version.popitem(last=False)
            except KeyError:  # emptied by another thread meanwhile
                break
        return served

    def version_of(self, algorithm: str) -> int:
        """The version that serves a ranker asked for by name: the active version when it is
        that ranker (the operator's choice), else the ranker's newest registered version.
        Raises :class:`UnknownModelError` when no version of it was trained, or
        :class:`RegistryUnavailableError`."""
        current = self.get()
        if current is not None and current.algorithm == algorithm:
            return current.version
        now = time.monotonic()
        cached = self._newest.get(algorithm)
        if cached is None or now - cached[0] >= self._refresh_seconds:
            try:
                cached = self._newest[algorithm] = (now, self._newest_in_registry(algorithm, now))
            except RegistryUnavailableError:
                if cached is None:
                    raise
                # Postgres away: the version answered last time goes on serving (it is loaded),
                # as the active one does
        if cached[1] is None:
            raise UnknownModelError(
                f"no version of {algorithm!r} is trained: train one with "
                f"`recsys train --model {algorithm}`"
            )
        return cached[1]

    def _newest_in_registry(self, algorithm: str, now: float) -> int | None:
        if now < self._registry_down_until:
            raise RegistryUnavailableError("the model registry is unavailable")
        try:
            with Session(self._engine) as session:
                return session.scalar(
                    select(func.max(Model.version)).where(Model.algorithm == algorithm)
                )
        except Exception as exc:
            self._registry_down_until = now + self._retry_seconds
            raise RegistryUnavailableError(
                f"the model registry is unavailable ({type(exc).__name__})"
            ) from exc

    def _remember(self, version: int, error: UnknownModelError | ModelLoadError) -> None:
        now = time.monotonic()
        if len(self._failed) >= MAX_REMEMBERED:  # drop what has expired, then the oldest
            for old, (when, _) in list(self._failed.items()):
                if now - when >= self._retry_seconds:
                    self._failed.pop(old, None)
            while len(self._failed) >= MAX_REMEMBERED:
                self._failed.pop(next(iter(self._failed)), None)
        self._failed[version] = (now, error)

    def version_errors(self) -> dict[int, str]:
        """Why each registered version asked for (by number or by an experiment arm) last
        failed to load; a version drops out once it loads."""
        return {
            version: str(error)
            for version, (_, error) in list(self._failed.items())
            if isinstance(error, ModelLoadError)
        }

    def loaded(self) -> list[ServedModel]:
        models = {m.version: m for m in list(self._by_version.values())}
        if self._current is not None:
            models[self._current.version] = self._current
        return list(models.values())

    def _reload(self) -> None:
        try:
            row = active_model(self._engine)
        except Exception as exc:  # Postgres away: keep serving what is loaded
            self._registry_error = f"model registry unavailable: {type(exc).__name__}"
            return
        self._registry_error = None
        if row is None:
            return
        if self._current is not None and self._current.version == row.version:
            self._load_error = self._refused = None  # e.g. rolled back from a refused version
            return
        key = (row.version, row.artifact_sha256, row.activated_at)
        if self._refused == key:
            return  # refused for good already; last_error says why
        try:
            ranker = self._load(row)
        except Exception as exc:  # refuse the new version, keep serving the old one
            self._load_error = str(exc)
            if isinstance(exc, UnservableModelError):
                self._refused = key  # retried if re-activated
                self._load_error += (
                    f"; once fixed, `recsys models activate {row.version}` serves it, "
                    "or `recsys models rollback`"
                )
            where = f" ({exc.path})" if isinstance(exc, ArtifactError) else ""
            logger.warning("active model version %s refused: %s%s", row.version, exc, where)
            return  # anything else (a database or disk hiccup) is tried again next refresh
        self._load_error = None
        self._refused = None
        self._failed.pop(row.version, None)
        self._current = ServedModel.from_row(row, ranker)

    def _load(self, row: Model) -> Ranker:
        """The version's ranker: its artifact intact and its items those of this catalogue
        (a version made active by hand, bypassing ``activate``, is checked here too; the
        items first, which reads one array instead of the whole artifact)."""
        verify_ranker(row)
        directory = verify_artifact(row)
        verify_catalogue(self._engine, row, artifact_item_ids(directory))
        return load_ranker(directory)
