"""Item-based nearest neighbours (``implicit``'s cosine / BM25 / TF-IDF item-item models).

A user's score for an item is the sum of its similarities to the items the user interacted with,
keeping each item's ``neighbours`` most similar items.
"""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from recsys.ranking.base import InteractionData, Ranker, RankerConfig
from recsys.ranking.registry import register
from recsys.ranking.sparse_state import csr_from_state, csr_state, neighbour_scores


class ItemKNNConfig(RankerConfig):
    similarity: Literal["cosine", "bm25", "tfidf"] = "bm25"
    neighbours: int = Field(100, ge=1, description="Similar items kept per item")
    bm25_k1: float = Field(1.2, gt=0)
    bm25_b: float = Field(0.75, ge=0, le=1)


@register
class ItemKNNRanker(Ranker):
    name = "item_knn"
    Config = ItemKNNConfig

    def _fit(self, data: InteractionData) -> None:
        from implicit.nearest_neighbours import (
            BM25Recommender,
            CosineRecommender,
            TFIDFRecommender,
        )

        cfg = self.config
        assert isinstance(cfg, ItemKNNConfig)
        if cfg.similarity == "bm25":
            model = BM25Recommender(K=cfg.neighbours, K1=cfg.bm25_k1, B=cfg.bm25_b)
        elif cfg.similarity == "tfidf":
            model = TFIDFRecommender(K=cfg.neighbours)
        else:
            model = CosineRecommender(K=cfg.neighbours)
        with warnings.catch_warnings():
            # implicit re-weights into a COO matrix internally and then warns about its own input
            warnings.filterwarnings("ignore", message="Method expects CSR input")
            model.fit(data.matrix.tocsr(), show_progress=False)
        self.similarity_ = sp.csr_matrix(model.similarity, dtype=np.float32)

    def _score_indices(self, user: int | None, items: np.ndarray) -> np.ndarray:
        if user is None:
            return np.full(len(items), np.nan)
        return neighbour_scores(self.seen_[user], self.similarity_, items)

    def _state(self) -> dict[str, np.ndarray]:
        return csr_state("sim", self.similarity_)

    def _restore(self, state: dict[str, np.ndarray]) -> None:
        n = len(self.item_ids_)
        self.similarity_ = csr_from_state(state, "sim", (n, n))
