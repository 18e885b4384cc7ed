"""Sparse matrices in a ranker's saved state: CSR as three plain arrays (artifacts never pickle)."""

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
