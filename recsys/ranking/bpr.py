"""Bayesian personalised ranking: pairwise matrix factorisation (``implicit`` library)."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from recsys.ranking.base import InteractionData, RankerConfig
from recsys.ranking.factors import FactorRanker
from recsys.ranking.registry import register


class BPRConfig(RankerConfig):
    factors: int = Field(64, ge=1)
    learning_rate: float = Field(0.05, gt=0)
    regularization: float = Field(0.01, ge=0)
    iterations: int = Field(100, ge=1)
    seed: int = 42


@register
class BPRRanker(FactorRanker):
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
