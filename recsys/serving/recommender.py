"""The serving core the API is a shell over: candidates → online features → score → filters →
top-k, for `recommendations`, `rank` and `similar`; experiments, shadows, degraded mode, log.

Cost of a request (1,000 candidates, LightGBM): candidates from the generator (a matrix-vector
product over the catalogue), features from :class:`~recsys.serving.feature_reader.
OnlineFeatureReader` (one Redis read for the user, the items from memory), the booster, a sort.
Nothing on this path waits on Postgres: the items a user just interacted with, which the model
cannot know, come from one bounded Redis read (:mod:`recsys.serving.recent`), and the serve log
is queued (:mod:`recsys.serving.serve_log`).

Degraded mode: when the online store does not answer (connection refused, timeout), the service
stops asking it for ``store_retry_seconds`` and answers without features — the model's own
scores when it needs none (ALS, EASE …), the training data's popular items otherwise — with
``degraded: true``. It never turns a store failure into a 500.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from recsys.ranking import Ranker
from recsys.serving.catalogue import Catalogue
from recsys.serving.experiments import ExperimentConfig, assign_version
from recsys.serving.feature_reader import OnlineFeatureReader
from recsys.serving.models import (
    ActiveModelHolder,
    ModelLoadError,
    RegistryUnavailableError,
    ServedModel,
    UnknownModelError,
)
from recsys.serving.online_features import item_feature_rows, json_value, user_feature_values
from recsys.serving.recent import RecentItems

logger = logging.getLogger(__name__)


class NoModelError(RuntimeError):
    """No model is active yet: train one with `recsys train`."""


@dataclass(frozen=True)
class RankRequest:
    user_id: str
    k: int = 10
    #: caller-supplied candidates (`POST /v1/rank`); None = the model's own generator
    candidates: Sequence[str] | None = None
    model_version: int | None = None
    #: a ranker by name (`algorithm=`): its active or newest version; not with model_version
    algorithm: str | None = None
    exclude_seen: bool = True
    exclude: Sequence[str] = ()
    genres: Sequence[str] = ()
    explain: bool = False
    endpoint: str = "recommendations"


@dataclass(frozen=True)
class ScoredItem:
    item_id: str
    score: float | None
    rank: int
    explanation: dict[str, Any] | None = None


@dataclass
class RecommendationResult:
    request_id: uuid.UUID
    user_id: str
    model_version: int
    algorithm: str
    variant: str
    fallback: bool
    degraded: bool
    items: list[ScoredItem]
    served_at: datetime
    latency_ms: float = 0.0
    features: dict[str, Any] = field(default_factory=dict)
    feature_seconds: float = 0.0
    feature_service: str = ""


class RecommendationService:
    def __init__(
        self,
        models: ActiveModelHolder,
        catalogue: Catalogue,
        reader_factory: Callable[[str, Sequence[str]], OnlineFeatureReader],
        *,
        candidate_pool: int = 200,
        experiment: ExperimentConfig | None = None,
        store_retry_seconds: float = 1.0,
        recent: RecentItems | None = None,
        log_features_every: int = 1,
    ) -> None:
        self.models = models
        self.catalogue = catalogue
        self._reader_factory = reader_factory
        self._readers: dict[str, OnlineFeatureReader] = {}
        self._readers_lock = threading.Lock()
        self._candidate_pool = candidate_pool
        self.experiment = experiment or ExperimentConfig()
        self._store_retry_seconds = store_retry_seconds
        self._store_down_until = 0.0
        self._definition_errors_logged: dict[str, float] = {}  # service → next log time
        self._log_features_every = max(1, log_features_every)
        self._recent = recent
        self._served = 0

    # -- which model ---------------------------------------------------------------------------
    def current_model(self) -> ServedModel | None:
        return self.models.get()

    def model_for(
        self, user_id: str, override: int | None = None, algorithm: str | None = None
    ) -> tuple[ServedModel, str]:
        """(model, variant): an explicit version, else a ranker asked for by name (its active
        or newest version), else the user's experiment arm, else the registry's active
        version."""
        if override is not None:
            return self.models.version(override), f"override-v{override}"
        if algorithm is not None:
            version = self.models.version_of(algorithm)
            return self.models.version(version), f"override-v{version}"
        assigned = assign_version(user_id, self.experiment)
        if assigned is not None:
            try:
                return self.models.version(assigned), f"v{assigned}"
            except (UnknownModelError, ModelLoadError, RegistryUnavailableError):
                # The user did not ask for this arm: serve the active version rather than fail
                # (the holder logs why once and /readyz lists it under the version).
                pass
        return self._active(), "active"

    def _active(self) -> ServedModel:
        model = self.models.get()
        if model is None:
            raise NoModelError(self._no_model_reason())
        return model

    def _no_model_reason(self) -> str:
        if self.models.last_error:
            return (
                f"no model can be served ({self.models.last_error}): activate a working "
                "version with `recsys models activate VERSION` or `recsys models rollback`"
            )
        return "no model is active: train one with `recsys train --model NAME`"

    # -- features ------------------------------------------------------------------------------
    def reader(self, model: ServedModel) -> OnlineFeatureReader:
        reader = self._readers.get(model.feature_service)
        if reader is None:
            with self._readers_lock:
                reader = self._readers.get(model.feature_service)
                if reader is None:
                    items = pd.unique(
                        np.concatenate([self.catalogue.item_ids, model.ranker.item_ids_])
                    )
                    reader = self._reader_factory(model.feature_service, list(items))
                    self._readers[model.feature_service] = reader
        return reader

    def refresh_features(self) -> None:
        """Reload item snapshots whose views were materialised since (called in background)."""
        for reader in list(self._readers.values()):
            try:
                reader.refresh_if_stale()
            except Exception:
                logger.exception("feature snapshot refresh failed for %s", reader.feature_service)

    def _fetch(self, model: ServedModel, user_id: str, items: list[str]) -> pd.DataFrame | None:
        """Online features, or None when the store is down (then not asked again for a while)."""
        if time.monotonic() < self._store_down_until:
            return None
        from feast.errors import FeastObjectNotFoundException  # loaded by the reader already

        try:
            features = self.reader(model).fetch(user_id, items)
        except FeastObjectNotFoundException as exc:
            # This model's FeatureService (or a view in it) is gone from the registry: its own
            # problem, not the store's, so other models keep their features.
            self._definition_error(model, f"{type(exc).__name__}: {exc}")
            return None
        except Exception as exc:
            self._store_down_until = time.monotonic() + self._store_retry_seconds
            logger.warning("online store unavailable (%s): degraded answers", type(exc).__name__)
            return None
        # A feature the model was trained on that its FeatureService no longer serves (edited
        # since) would reach the model as missing on every request, silently.
        ranker = model.ranker
        trained_on = [*getattr(ranker, "store_columns_", ()), *getattr(ranker, "time_columns_", ())]
        missing = [c for c in trained_on if c not in features.columns]
        if missing:
            self._definition_error(
                model, f"{model.feature_service} no longer serves {', '.join(sorted(missing))}"
            )
            return None
        return features

    def _definition_error(self, model: ServedModel, why: str) -> None:
        """Log a model's feature-definition problem, once a minute per FeatureService."""
        now = time.monotonic()
        if now >= self._definition_errors_logged.get(model.feature_service, 0.0):
            self._definition_errors_logged[model.feature_service] = now + 60.0
            logger.error(
                "model version %s cannot read the features it was trained on (%s): degraded "
                "answers until the FeatureService serves them again or another version is active",
                model.version, why,
            )  # fmt: skip

    # -- the request paths ---------------------------------------------------------------------
    def recommend(self, request: RankRequest) -> tuple[RecommendationResult, list[Any]]:
        """The answer, plus the shadow work to do after the response (see :meth:`run_shadows`)."""
        started = time.perf_counter()
        model, variant = self.model_for(request.user_id, request.model_version, request.algorithm)
        result = self._rank(model, variant, request, started)
        shadows = [v for v in self.experiment.shadows if v != model.version]
        return result, [(version, request, result.request_id) for version in shadows]

    def run_shadows(
        self, work: list[Any], log: Callable[[RecommendationResult, str], None]
    ) -> None:
        for version, request, served_request_id in work:
            try:
                model = self.models.version(version)
                result = self._rank(model, "shadow", request, time.perf_counter())
                result.request_id = uuid.uuid4()
                log(result, str(served_request_id))
            except Exception:
                logger.exception("shadow model v%s failed", version)

    def _rank(
        self, model: ServedModel, variant: str, request: RankRequest, started: float
    ) -> RecommendationResult:
        ranker = model.ranker
        user_id = request.user_id
        excluded = self._excluded(request)
        if request.exclude_seen and self._recent is not None:
            # what the user just did: the model cannot know to skip it before it is retrained
            excluded += self._recent.items(user_id)
        # Cold start: nothing to personalise on. Given candidates are ranked by popularity too
        # (the model would leave them unscored, in the caller's order), flagged the same way.
        fallback = not ranker.knows_user(user_id)
        if request.candidates is not None:
            candidates = self._filter_given(ranker, request, excluded)
        elif fallback:
            candidates = ranker.popular_items(
                max(self._candidate_pool, request.k), exclude=excluded
            ).item_ids.tolist()
        else:
            candidates = ranker.candidates(
                user_id,
                max(self._candidate_pool, request.k),
                exclude=excluded,
                exclude_seen=request.exclude_seen,
            ).item_ids.tolist()

        fetch_started = time.perf_counter()
        features = self._fetch(model, user_id, candidates) if candidates else None
        feature_seconds = time.perf_counter() - fetch_started
        degraded = features is None and bool(candidates)
        generated = not fallback and request.candidates is None
        if degraded and ranker.uses_store_features and generated:
            # Cannot score without features: the candidates in their generator's order (it
            # needs none), which already left out what the user has seen and asked to exclude.
            # Scored by position: trending candidates, which the generator did not score, follow.
            scores = -np.arange(len(candidates), dtype=np.float64)
        elif fallback or (degraded and ranker.uses_store_features):
            # Cold start, or given candidates that cannot be scored without features: the
            # candidates by training popularity (items the model does not know: no score).
            scores = _popularity(ranker, candidates)
            fallback = True
        else:
            scores = np.asarray(ranker.score(user_id, candidates, features), dtype=np.float64)

        order = _top_k(scores, request.k)
        if request.candidates is not None:
            # Candidates the model cannot score (new items) follow the scored ones, in the
            # caller's order, with no score.
            unscored = [i for i in range(len(candidates)) if not np.isfinite(scores[i])]
            order = (order + unscored)[: request.k]
        explanations = self._explain(ranker, request, candidates, features, order)
        items = [
            ScoredItem(
                candidates[i],
                float(scores[i]) if np.isfinite(scores[i]) else None,
                rank,
                explanations.get(i) if explanations else None,
            )
            for rank, i in enumerate(order, 1)
        ]
        self._served += 1
        logged: dict[str, Any] = {}
        if features is not None and self._served % self._log_features_every == 0:
            served = features.iloc[[i for i in order if i < len(features)]]
            logged = {"user": user_feature_values(features), "items": item_feature_rows(served)}
        return RecommendationResult(
            request_id=uuid.uuid4(),
            user_id=user_id,
            model_version=model.version,
            algorithm=model.algorithm,
            variant=variant,
            fallback=fallback,
            degraded=degraded,
            items=items,
            served_at=datetime.now(UTC),
            latency_ms=(time.perf_counter() - started) * 1000,
            features=logged,
            feature_seconds=feature_seconds,
            feature_service=model.feature_service,
        )

    def _excluded(self, request: RankRequest) -> list[str]:
        excluded = list(request.exclude)
        if request.genres:
            excluded += self.catalogue.outside_genres(request.genres).tolist()
        return excluded

    def _filter_given(self, ranker: Ranker, request: RankRequest, excluded: list[str]) -> list[str]:
        drop = set(excluded)
        if request.exclude_seen and ranker.knows_user(request.user_id):
            drop |= set(ranker.item_ids_[ranker.seen_items(request.user_id)])
        seen: set[str] = set()
        kept = []
        for item in request.candidates or ():
            if item not in drop and item not in seen:
                seen.add(item)
                kept.append(item)
        return kept

    def _explain(
        self,
        ranker: Ranker,
        request: RankRequest,
        candidates: list[str],
        features: pd.DataFrame | None,
        order: list[int],
    ) -> dict[int, dict[str, Any]] | None:
        if not request.explain or not order:
            return None
        chosen = [candidates[i] for i in order]
        chosen_features = (
            features.iloc[order].reset_index(drop=True) if features is not None else None
        )
        out: dict[int, dict[str, Any]] = {}
        explained = ranker.explain(request.user_id, chosen, chosen_features)
        for position, i in enumerate(order):
            entry: dict[str, Any] = {"features": {}, "contributions": None}
            if chosen_features is not None:
                row = chosen_features.iloc[position]
                entry["features"] = {
                    k: json_value(v) for k, v in row.items() if k not in ("user_id", "item_id")
                }
            if explained is not None and position in explained[0].index:
                inputs, contributions = explained
                entry["inputs"] = {k: json_value(v) for k, v in inputs.loc[position].items()}
                entry["contributions"] = {
                    k: float(v) for k, v in contributions.loc[position].items()
                }
            out[i] = entry
        return out

    def similar(
        self, item_id: str, k: int, model_version: int | None = None
    ) -> RecommendationResult:
        started = time.perf_counter()
        model = self.models.version(model_version) if model_version else self._active()
        similar = model.ranker.similar_items(item_id, k)
        items = [
            ScoredItem(str(i), float(s), rank)
            for rank, (i, s) in enumerate(zip(similar.item_ids, similar.scores, strict=True), 1)
        ]
        return RecommendationResult(
            request_id=uuid.uuid4(),
            user_id="",
            model_version=model.version,
            algorithm=model.algorithm,
            variant="active",
            fallback=False,
            degraded=False,
            items=items,
            served_at=datetime.now(UTC),
            latency_ms=(time.perf_counter() - started) * 1000,
        )


def serve_log_row(
    result: RecommendationResult, endpoint: str, shadow_of: str | None = None
) -> dict[str, Any]:
    """The serve-log row of an answer (positions are the array order, 1-based ranks)."""
    return {
        "request_id": result.request_id,
        "served_at": result.served_at,
        "user_id": result.user_id,
        "model_version": result.model_version,
        "algorithm": result.algorithm,
        "fallback": result.fallback,
        "k": len(result.items),
        "items": [i.item_id for i in result.items],
        "scores": [i.score if i.score is not None else float("nan") for i in result.items],
        "features": result.features,
        "latency_ms": result.latency_ms,
        "variant": result.variant,
        "shadow_of": uuid.UUID(shadow_of) if shadow_of else None,
        "endpoint": endpoint,
        "degraded": result.degraded,
    }


def _popularity(ranker: Ranker, items: list[str]) -> np.ndarray:
    """Training popularity of ``items``; NaN for items the model does not know."""
    positions = ranker._item_index.get_indexer(items)
    known = positions >= 0
    scores = np.full(len(items), np.nan)
    scores[known] = ranker.item_popularity_[positions[known]]
    return scores


def _top_k(scores: np.ndarray, k: int) -> list[int]:
    """Indices of the k best finite scores, best first (NaN = could not score: dropped)."""
    scores = np.asarray(scores, dtype=np.float64)
    valid = np.flatnonzero(np.isfinite(scores))
    if valid.size > k:
        valid = valid[np.argpartition(-scores[valid], k - 1)[:k]]
    return valid[np.argsort(-scores[valid], kind="stable")].tolist()
