"""Most-popular items: the baseline every other ranker must beat, and the cold-start answer.

With ``half_life_days`` each interaction counts 0.5^(age / half-life), its age measured from the
newest interaction in the training data, so what is popular now outranks what was popular once.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from pydantic import Field

from recsys.ranking.base import InteractionData, Ranker, RankerConfig, Recommendations
from recsys.ranking.registry import register


class PopularityConfig(RankerConfig):
    half_life_days: float | None = Field(
        None, gt=0, description="Time decay of an interaction's weight; None counts all equally"
    )


@register
class PopularityRanker(Ranker):
    name = "popularity"
    Config = PopularityConfig

    def _fit(self, data: InteractionData) -> None:
        cfg = self.config
        assert isinstance(cfg, PopularityConfig)
        if cfg.half_life_days is None:
            self.scores_ = self.item_popularity_
            return
        assert data.events is not None
        seconds = data.event_times()
        age_days = (seconds.max() - seconds) / 86_400.0
        weights = np.power(0.5, age_days / cfg.half_life_days)
        items = self._item_index.get_indexer(data.events["item_id"])
        self.scores_ = np.bincount(items, weights=weights, minlength=len(self.item_ids_))

    def _score_indices(self, user: int | None, items: np.ndarray) -> np.ndarray:
        # The same for every user, known or not.
        return self.scores_[items]

    def popular_items(self, k: int, exclude: Iterable[str] = ()) -> Recommendations:
        # The (possibly decayed) scores, not raw counts: the fallback agrees with the ranker.
        return self.recommend("", k, exclude=exclude, exclude_seen=False)

    def _state(self) -> dict[str, np.ndarray]:
        return {"scores": self.scores_}

    def _restore(self, state: dict[str, np.ndarray]) -> None:
        self.scores_ = state.get("scores", self.item_popularity_)
