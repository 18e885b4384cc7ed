"""Most-popular items: the baseline every other ranker must beat, and the cold-start answer."""

from __future__ import annotations

import numpy as np

from recsys.ranking.base import InteractionData, Ranker, RankerConfig
from recsys.ranking.registry import register


class PopularityConfig(RankerConfig):
    pass


@register
class PopularityRanker(Ranker):
    name = "popularity"
    Config = PopularityConfig

    def _fit(self, data: InteractionData) -> None:
        self.scores_ = self.item_popularity_

    def _score_indices(self, user: int | None, items: np.ndarray) -> np.ndarray:
        # The same for every user, known or not.
        return self.scores_[items]

    def _state(self) -> dict[str, np.ndarray]:
        return {}

    def _restore(self, state: dict[str, np.ndarray]) -> None:
        self.scores_ = self.item_popularity_
