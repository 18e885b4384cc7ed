"""Bayesian personalised ranking: pairwise matrix factorisation (``implicit`` library)."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from recsys.ranking.base import InteractionData, Ranker, RankerConfig
from recsys.ranking.registry import register


class BPRConfig(RankerConfig):
    factors: int = Field(64, ge=1)
    learning_rate: float = Field(0.05, gt=0)
    regularization: float = Field(0.01, ge=0)
    iterations: int = Field(100, ge=1)
    seed: int = 42


@register
class BPRRanker(Ranker):
    name = "bpr"
    Config = BPRConfig

    def _fit(self, data: InteractionData) -> None:
        from implicit.cpu.bpr import BayesianPersonalizedRanking
        from threadpoolctl import threadpool_limits

        cfg = self.config
        assert isinstance(cfg, BPRConfig)
        with threadpool_limits(1, "blas"):
            model = BayesianPersonalizedRanking(
                factors=cfg.factors,
                learning_rate=cfg.learning_rate,
                regularization=cfg.regularization,
                iterations=cfg.iterations,
                random_state=cfg.seed,
            )
            # Binary preferences: BPR samples (user, liked, other) triples; counts add nothing.
            matrix = data.matrix.tocsr().copy()
            matrix.data[:] = 1.0
            model.fit(matrix, show_progress=False)
        # implicit appends an item-bias column to item factors and a constant 1 to user factors,
        # so the plain dot product already includes the bias.
        self.user_factors_ = np.asarray(model.user_factors, dtype=np.float32)
        self.item_factors_ = np.asarray(model.item_factors, dtype=np.float32)

    def _score_indices(self, user: int | None, items: np.ndarray) -> np.ndarray:
        if user is None:
            return np.full(len(items), np.nan)
        return self.item_factors_[items] @ self.user_factors_[user]

    def _state(self) -> dict[str, np.ndarray]:
        return {"user_factors": self.user_factors_, "item_factors": self.item_factors_}

    def _restore(self, state: dict[str, np.ndarray]) -> None:
        self.user_factors_ = state["user_factors"]
        self.item_factors_ = state["item_factors"]
