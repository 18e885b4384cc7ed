"""EASE: embarrassingly shallow autoencoder (Steck, WWW 2019), closed form with numpy.

B = I − P · diag(1 / diag(P)) with P = (XᵀX + λI)⁻¹, so the diagonal of B is zero; a user's
scores are their binary history times B. One dense items × items matrix: items nobody
interacted with in training are left out of it (their scores are 0).
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from recsys.ranking.base import InteractionData, Ranker, RankerConfig
from recsys.ranking.registry import register


class EASEConfig(RankerConfig):
    l2: float = Field(500.0, gt=0, description="λ: the L2 penalty on the item-item weights")


def _ease_weights(gram: np.ndarray) -> np.ndarray:
    """B from the regularised Gram matrix, in place. XᵀX + λI is symmetric positive definite, so
    a Cholesky inverse (LAPACK potrf + potri, single precision) does it in about a fifth of the
    time of a general float64 inverse (measured: 5.5 s against 36 s for 8,500 items)."""
    from scipy.linalg import lapack

    factor, info = lapack.spotrf(gram, lower=False, overwrite_a=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"EASE: Cholesky factorisation failed (info={info})")
    upper, info = lapack.spotri(factor, lower=False, overwrite_c=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"EASE: inverse failed (info={info})")
    precision = np.triu(upper) + np.triu(upper, 1).T
    weights = precision / -np.diag(precision)
    np.fill_diagonal(weights, 0.0)
    return weights.astype(np.float32, copy=False)


@register
class EASERanker(Ranker):
    name = "ease"
    Config = EASEConfig

    def _fit(self, data: InteractionData) -> None:
        cfg = self.config
        assert isinstance(cfg, EASEConfig)
        binary = data.matrix.tocsc().astype(np.float32)
        binary.data[:] = 1.0
        active = np.flatnonzero(np.diff(binary.indptr) > 0)
        x = binary[:, active]
        gram = (x.T @ x).toarray()
        gram[np.diag_indices_from(gram)] += cfg.l2
        self.active_items_ = active.astype(np.int64)
        self.weights_ = _ease_weights(gram)
        self._prepare()

    def _prepare(self) -> None:
        # item index → row/column in weights_, −1 for items outside it
        self._position = np.full(len(self.item_ids_), -1, dtype=np.int64)
        self._position[self.active_items_] = np.arange(len(self.active_items_))

    def _score_indices(self, user: int | None, items: np.ndarray) -> np.ndarray:
        if user is None:
            return np.full(len(items), np.nan)
        history = self._position[
            self.seen_.indices[self.seen_.indptr[user] : self.seen_.indptr[user + 1]]
        ]
        columns = self._position[items]
        scores = np.zeros(len(items), dtype=np.float64)
        inside = columns >= 0
        if len(history):
            scores[inside] = self.weights_[np.ix_(history, columns[inside])].sum(axis=0)
        return scores

    def _state(self) -> dict[str, np.ndarray]:
        return {"active_items": self.active_items_, "weights": self.weights_}

    def _restore(self, state: dict[str, np.ndarray]) -> None:
        self.active_items_ = state["active_items"]
        self.weights_ = state["weights"]
        self._prepare()
