"""Sparse item × item models shared by the kNN rankers: CSR matrices in a ranker's saved state
(three plain arrays; artifacts never pickle), and scoring a user against the similarity."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def csr_state(prefix: str, matrix: sp.csr_matrix) -> dict[str, np.ndarray]:
    """``<prefix>_data``, ``<prefix>_indices`` and ``<prefix>_indptr`` of a CSR matrix."""
    return {
        f"{prefix}_data": matrix.data,
        f"{prefix}_indices": matrix.indices,
        f"{prefix}_indptr": matrix.indptr,
    }


def csr_from_state(
    state: dict[str, np.ndarray], prefix: str, shape: tuple[int, int]
) -> sp.csr_matrix:
    """The matrix :func:`csr_state` saved under ``prefix``."""
    arrays = (state[f"{prefix}_data"], state[f"{prefix}_indices"], state[f"{prefix}_indptr"])
    return sp.csr_matrix(arrays, shape=shape)


def neighbour_scores(
    user_weights: sp.csr_matrix, similarity: sp.csr_matrix, items: np.ndarray
) -> np.ndarray:
    """Scores of ``items`` for one user: the similarity rows of the user's items (a 1 × n_items
    weight row), summed, then picked. Slicing the similarity's columns instead would copy the
    whole matrix on every call (4 ms per user at 9.7k items)."""
    return np.asarray((user_weights @ similarity).todense()).ravel()[items]
