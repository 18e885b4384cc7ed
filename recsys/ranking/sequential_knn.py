"""Sequential item-kNN: items are similar when users interact with them close together in time.

Plain item-kNN counts two items as related when the same user has both, anywhere in a history of
years. Here a pair counts only when the two interactions are within ``window`` places of each
other in that user's timeline, weighted ``decay ** (distance - 1)``, so the similarity captures
what people take up together (a season's releases, a franchise, one sitting's ratings). Counts
are normalised by ``(popularity_i · popularity_j) ** popularity_exponent`` so blockbusters do
not neighbour everything, and each item keeps its ``neighbours`` strongest neighbours.

A user's score for an item is the sum of its similarities to the user's items, the n-th most
recent weighted ``recency ** n`` (1 = every item counts the same).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from pydantic import Field

from recsys.ranking.base import InteractionData, Ranker, RankerConfig
from recsys.ranking.registry import register
from recsys.ranking.sparse_state import csr_from_state, csr_state, neighbour_scores


class SequentialKNNConfig(RankerConfig):
    # Defaults chosen on validation splits carved from ml-latest-small's training rows (random
    # protocol, two carves): window 5–30 and decay 0.7–0.9 land within 2.5 % of each other;
    # exponent 0.7 loses a fifth to a third of NDCG@10; 1,000 neighbours beat 200 by 1.3 %.
    # Recency weighting hurts the random protocol (0.99: −12 %), so it is off.
    window: int = Field(20, ge=1, description="Timeline places apart that still make a pair")
    decay: float = Field(
        0.8, gt=0, le=1, description="Weight of a pair d places apart: decay^(d-1)"
    )
    popularity_exponent: float = Field(0.5, ge=0, le=1)
    neighbours: int = Field(1000, ge=1, description="Similar items kept per item")
    recency: float = Field(1.0, gt=0, le=1, description="User side: weight of the n-th latest item")


def _timeline_pairs(
    users: np.ndarray, items: np.ndarray, window: int, decay: float, n: int
) -> sp.csr_matrix:
    """Symmetric item × item counts of pairs within ``window`` places in one user's timeline
    (``users`` and ``items`` sorted by user, then time)."""
    rows, cols, weights = [], [], []
    for distance in range(1, window + 1):
        same_user = users[distance:] == users[:-distance]
        first, second = items[:-distance][same_user], items[distance:][same_user]
        weight = np.full(first.size, decay ** (distance - 1), dtype=np.float32)
        rows += [first, second]
        cols += [second, first]
        weights += [weight, weight]
    counts = sp.csr_matrix(
        (np.concatenate(weights), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)
    )
    counts.sum_duplicates()
    counts.setdiag(0)  # the same item twice in a row is not a neighbour of itself
    counts.eliminate_zeros()
    return counts


def _keep_strongest(matrix: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Each row's k largest entries."""
    matrix = matrix.tocsr()
    keep = np.zeros(matrix.nnz, dtype=bool)
    for row in range(matrix.shape[0]):
        start, end = matrix.indptr[row], matrix.indptr[row + 1]
        if end - start <= k:
            keep[start:end] = True
        else:
            keep[start + np.argpartition(-matrix.data[start:end], k - 1)[:k]] = True
    kept = matrix.copy()
    kept.data = np.where(keep, kept.data, 0).astype(np.float32)
    kept.eliminate_zeros()
    return kept


@register
class SequentialKNNRanker(Ranker):
    name = "sequential_knn"
    Config = SequentialKNNConfig

    @property
    def cfg(self) -> SequentialKNNConfig:
        assert isinstance(self.config, SequentialKNNConfig)
        return self.config

    def _fit(self, data: InteractionData) -> None:
        cfg = self.cfg
        if data.events is None or "occurred_at" not in data.events:
            raise ValueError("sequential_knn needs interaction timestamps (occurred_at)")
        timeline = pd.DataFrame({
            "user": self._user_index.get_indexer(data.events["user_id"]),
            "item": self._item_index.get_indexer(data.events["item_id"]),
            "when": pd.to_datetime(data.events["occurred_at"], utc=True),
        }).sort_values(["user", "when", "item"], kind="stable")  # fmt: skip
        users, items = timeline["user"].to_numpy(), timeline["item"].to_numpy()
        counts = _timeline_pairs(users, items, cfg.window, cfg.decay, len(self.item_ids_))
        scale = (self.item_popularity_ + 1.0) ** -cfg.popularity_exponent
        similarity = sp.diags(scale) @ counts @ sp.diags(scale)
        self.similarity_ = _keep_strongest(similarity, cfg.neighbours).astype(np.float32)
        self.user_weights_ = self._user_weights(timeline)

    def _user_weights(self, timeline: pd.DataFrame) -> sp.csr_matrix:
        """users × items: ``recency ** n`` for the user's n-th latest interaction with the item
        (n = 0 for the latest; ``timeline`` sorted by user, then time); an item taken up twice
        counts at its latest place."""
        latest = (
            timeline.assign(n=timeline.groupby("user", sort=False).cumcount(ascending=False))
            .groupby(["user", "item"], sort=False)["n"]
            .min()
            .reset_index()
        )
        weight = np.power(self.cfg.recency, latest["n"].to_numpy(dtype=np.float64))
        return sp.csr_matrix(
            (weight.astype(np.float32), (latest["user"].to_numpy(), latest["item"].to_numpy())),
            shape=(len(self.user_ids_), len(self.item_ids_)),
        )

    def _score_indices(self, user: int | None, items: np.ndarray) -> np.ndarray:
        if user is None:
            return np.full(len(items), np.nan)
        return neighbour_scores(self.user_weights_[user], self.similarity_, items)

    def _state(self) -> dict[str, np.ndarray]:
        return {**csr_state("sim", self.similarity_), **csr_state("user", self.user_weights_)}

    def _restore(self, state: dict[str, np.ndarray]) -> None:
        n_users, n_items = len(self.user_ids_), len(self.item_ids_)
        self.similarity_ = csr_from_state(state, "sim", (n_items, n_items))
        self.user_weights_ = csr_from_state(state, "user", (n_users, n_items))
