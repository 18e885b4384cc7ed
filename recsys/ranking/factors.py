"""Shared scoring and persistence for matrix-factorisation rankers (ALS, BPR)."""

from __future__ import annotations

import numpy as np

from recsys.ranking.base import Ranker


class FactorRanker(Ranker):
    """Scores are user factor · item factor; subclasses fit ``user_factors_``/``item_factors_``."""

    user_factors_: np.ndarray
    item_factors_: np.ndarray

    def _score_indices(self, user: int | None, items: np.ndarray) -> np.ndarray:
        if user is None:
            return np.full(len(items), np.nan)
        return self.item_factors_[items] @ self.user_factors_[user]

    def _state(self) -> dict[str, np.ndarray]:
        return {"user_factors": self.user_factors_, "item_factors": self.item_factors_}

    def _restore(self, state: dict[str, np.ndarray]) -> None:
        self.user_factors_ = state["user_factors"]
        self.item_factors_ = state["item_factors"]
