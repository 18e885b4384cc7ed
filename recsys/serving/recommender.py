"""Recommendations for one user: candidates → online features → score → top-k, then a log row."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import Engine, insert

from recsys.db.models import ServedRequest
from recsys.serving.models import ActiveModelHolder, ServedModel
from recsys.serving.online_features import (
    fetch_online_features,
    item_feature_rows,
    user_feature_values,
)


class NoModelError(RuntimeError):
    """No model is active yet: train one with `recsys train`."""


@dataclass(frozen=True)
class ScoredItem:
    item_id: str
    score: float
    rank: int


@dataclass
class RecommendationResult:
    request_id: uuid.UUID
    user_id: str
    model_version: int
    algorithm: str
    fallback: bool
    items: list[ScoredItem]
    served_at: datetime
    latency_ms: float = 0.0
    features: dict[str, Any] = field(default_factory=dict)


class RecommendationService:
    def __init__(
        self, engine: Engine, feature_store, models: ActiveModelHolder, candidate_pool: int = 200
    ) -> None:
        self._engine = engine
        self._store = feature_store
        self.models = models
        self._candidate_pool = candidate_pool

    def recommend(self, user_id: str, k: int) -> RecommendationResult:
        started = time.perf_counter()
        model = self.models.get()
        if model is None:
            raise NoModelError("no model is active: train one with `recsys train --model NAME`")
        ranker = model.ranker
        fallback = not ranker.knows_user(user_id)
        if fallback:
            # Cold start: nothing to personalise on, so the most popular items, flagged.
            popular = ranker.popular_items(k)
            candidates, scores = popular.item_ids.tolist(), popular.scores
        else:
            candidates = ranker.candidates(user_id, max(self._candidate_pool, k)).item_ids.tolist()
        features = fetch_online_features(self._store, model.feature_service, user_id, candidates)
        if not fallback:
            scores = ranker.score(user_id, candidates, features)
        order = _top_k(scores, k)
        items = [
            ScoredItem(candidates[i], float(scores[i]), rank) for rank, i in enumerate(order, 1)
        ]
        served_features = features.iloc[order] if len(features) else features
        return RecommendationResult(
            request_id=uuid.uuid4(),
            user_id=user_id,
            model_version=model.version,
            algorithm=model.algorithm,
            fallback=fallback,
            items=items,
            served_at=datetime.now(UTC),
            latency_ms=(time.perf_counter() - started) * 1000,
            features={
                "user": user_feature_values(features),
                "items": item_feature_rows(served_features),
            },
        )

    def log(self, result: RecommendationResult) -> None:
        """Append the served request to the serve log (called after the response is sent)."""
        with self._engine.begin() as conn:
            conn.execute(
                insert(ServedRequest).values(
                    request_id=result.request_id,
                    served_at=result.served_at,
                    user_id=result.user_id,
                    model_version=result.model_version,
                    algorithm=result.algorithm,
                    fallback=result.fallback,
                    k=len(result.items),
                    items=[i.item_id for i in result.items],
                    scores=[i.score for i in result.items],
                    features=result.features,
                    latency_ms=result.latency_ms,
                )
            )

    def current_model(self) -> ServedModel | None:
        return self.models.get()


def _top_k(scores: np.ndarray, k: int) -> list[int]:
    """Indices of the k best finite scores, best first (NaN = could not score: dropped)."""
    scores = np.asarray(scores, dtype=np.float64)
    valid = np.flatnonzero(np.isfinite(scores))
    best = valid[np.argsort(-scores[valid], kind="stable")][:k]
    return best.tolist()
