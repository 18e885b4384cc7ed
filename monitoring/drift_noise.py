"""Is a column's drift distance beyond sampling noise? A permutation test on the distance itself.

Two samples of one distribution are never at distance 0, and the smaller they are, the further
apart they land: for one normal distribution the normed Wasserstein distance reaches the 0.1
threshold about 20 % of the time with 500 rows a side, and nearly always with 60. A weekly report
that alerts on the threshold alone cries wolf on quiet weeks (an audit saw 5 of 8 columns
"drift" on a clean replay). So a column counts as drifted only when its distance is over the
threshold *and* samples of the same sizes drawn from the pooled rows are that far apart less than
1 % of the time. Large samples keep the threshold's meaning (a shift that matters); small ones can
still show a large shift, never sampling noise.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from scipy.spatial.distance import jensenshannon
from scipy.stats import wasserstein_distance

#: A column over the distance threshold drifts when its permutation p-value is below this.
NOISE_ALPHA = 0.01
#: 199 permutations: the smallest p-value is 1/200, below NOISE_ALPHA.
PERMUTATIONS = 199

Kind = Literal["numerical", "categorical"]


def distance(kind: Kind, reference: np.ndarray, current: np.ndarray, n_codes: int = 0) -> float:
    """The drift distance the report uses: Wasserstein normed by the reference's standard
    deviation (numerical), or Jensen-Shannon between the category shares (categorical, values
    as integer codes below ``n_codes``)."""
    if kind == "numerical":
        return float(wasserstein_distance(reference, current) / max(np.std(reference), 0.001))
    ref = np.bincount(reference, minlength=n_codes) / len(reference)
    cur = np.bincount(current, minlength=n_codes) / len(current)
    return float(jensenshannon(ref, cur))


def noise_p_value(
    kind: Kind,
    reference: pd.Series,
    current: pd.Series,
    permutations: int = PERMUTATIONS,
    seed: int = 0,
) -> float:
    """The share of random splits of the pooled non-missing values (into samples the sizes of
    ``reference`` and ``current``) at least as far apart as the two given, counting the given
    split: (1 + exceeding) / (1 + permutations). Stops early once the answer is >= NOISE_ALPHA."""
    # sorted: the same rows in another order get the same answer (the shuffles are seeded)
    ref = reference.dropna().sort_values(ignore_index=True)
    cur = current.dropna().sort_values(ignore_index=True)
    if kind == "numerical":
        pooled = np.concatenate([ref.to_numpy(np.float64), cur.to_numpy(np.float64)])
        n_codes = 0
    else:
        codes, uniques = pd.factorize(pd.concat([ref, cur], ignore_index=True).astype(str))
        pooled, n_codes = codes, len(uniques)
    n_ref = len(ref)
    observed = distance(kind, pooled[:n_ref], pooled[n_ref:], n_codes)
    rng = np.random.default_rng(seed)
    enough = int(np.ceil(NOISE_ALPHA * (permutations + 1)))  # exceedances that make p >= alpha
    exceeding = 0
    for done in range(1, permutations + 1):
        shuffled = rng.permutation(pooled)
        if distance(kind, shuffled[:n_ref], shuffled[n_ref:], n_codes) >= observed:
            exceeding += 1
            if exceeding >= enough:
                return (exceeding + 1) / (done + 1)
    return (exceeding + 1) / (permutations + 1)
