"""Implicit-feedback matrix factorisation (alternating least squares, `implicit` library)."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from recsys.ranking.base import InteractionData, RankerConfig
from recsys.ranking.factors import FactorRanker
from recsys.ranking.registry import register


class ALSConfig(RankerConfig):
    # Defaults chosen on validation splits carved from the training data (never the test split)
    # of both the synthetic data and ml-latest-small: the best worst-case NDCG@10 over the two.
    factors: int = Field(32, ge=1)
    regularization: float = Field(20.0, ge=0)
    alpha: float = Field(5.0, gt=0, description="Confidence weight of an observed interaction")
    iterations: int = Field(15, ge=1)
    seed: int = 42


@register
class ALSRanker(FactorRanker):
    name = "als"
    Config = ALSConfig

    def _fit(self, data: InteractionData) -> None:
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        cfg = self.config
        assert isinstance(cfg, ALSConfig)
        # implicit parallelises itself; a BLAS thread pool underneath only oversubscribes cores.
        with threadpool_limits(1, "blas"):
            model = AlternatingLeastSquares(
                factors=cfg.factors,
                regularization=cfg.regularization,
                alpha=cfg.alpha,
                iterations=cfg.iterations,
                random_state=cfg.seed,
            )
            model.fit(data.matrix.tocsr(), show_progress=False)
        self.user_factors_ = np.asarray(model.user_factors, dtype=np.float32)
        self.item_factors_ = np.asarray(model.item_factors, dtype=np.float32)
