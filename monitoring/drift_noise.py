"""Is a column's drift distance beyond sampling noise? A permutation test on the distance itself.

Two samples of one distribution are never at distance 0, and the smaller they are, the further
apart they land: for one normal distribution the normed Wasserstein distance reaches the 0.1
threshold about 20 % of the time with 500 rows a side, and nearly always with 60. A weekly report
that alerts on the threshold alone cries wolf on quiet weeks (an audit saw 5 of 8 columns
"drift" on a clean replay). So a column counts as drifted only when its distance is over the
threshold *and* splits of the pooled rows into two samples of the same sizes are that far apart
less than 1 % of the time. Large samples keep the threshold's meaning (a shift that matters);
small ones can still show a large shift, never sampling noise.

The rows of one served list are not independent draws (one user's scale of scores, one user's
taste in genres), and neither are one user's several lists in a week, so whole users are shuffled
(whole lists when the rows carry no user), never single rows: shuffling rows made a clean week of
60 lists "drift" in 44 % of simulated weeks (review), whole lists in none.
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
    reference_groups: pd.Series | None = None,
    current_groups: pd.Series | None = None,
    permutations: int = PERMUTATIONS,
    seed: int = 0,
) -> float:
    """The share of random splits of the pooled groups (lists; each row its own group when none
    are given) into as many groups as ``reference`` and ``current`` hold whose rows are at least
    as far apart as the given split, counting it: (1 + exceeding) / (1 + permutations). Missing
    and infinite values are left out. Once one split is as far apart the answer is >= NOISE_ALPHA
    and the loop stops (returning that lower bound)."""
    values, groups, in_reference = _pooled(
        reference, current, reference_groups, current_groups, numerical=kind == "numerical"
    )
    if not in_reference.any() or in_reference.all():
        return 1.0
    if kind == "numerical":
        pooled, n_codes = values.astype(np.float64), 0
    else:
        pooled, uniques = pd.factorize(values)
        n_codes = len(uniques)
    observed = distance(kind, pooled[in_reference], pooled[~in_reference], n_codes)
    if not np.isfinite(observed):
        return 1.0
    group_codes, group_ids = pd.factorize(groups, sort=True)  # sorted: row order cannot matter
    n_reference_groups = len(np.unique(group_codes[in_reference]))
    rng = np.random.default_rng(seed)
    for _ in range(permutations):
        chosen = np.zeros(len(group_ids), dtype=bool)
        chosen[rng.permutation(len(group_ids))[:n_reference_groups]] = True
        mask = chosen[group_codes]
        if distance(kind, pooled[mask], pooled[~mask], n_codes) >= observed:
            return 2 / (permutations + 1)  # one split as far apart already: p >= NOISE_ALPHA
    return 1 / (permutations + 1)


def _pooled(
    reference: pd.Series,
    current: pd.Series,
    reference_groups: pd.Series | None,
    current_groups: pd.Series | None,
    numerical: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(values, group labels, True for reference rows) of both sides' usable rows, sorted by
    group then value so that the same rows in another order give the same answer."""
    frames = []
    for side, values, groups in (
        ("r", reference, reference_groups),
        ("c", current, current_groups),
    ):
        labels = (
            pd.Series(np.arange(len(values)), index=values.index)
            if groups is None
            else pd.Series(groups.to_numpy(), index=values.index)
        )
        frame = pd.DataFrame({"value": values, "group": side + ":" + labels.astype(str)})
        if numerical:
            frame["value"] = frame["value"].astype(np.float64).replace([np.inf, -np.inf], np.nan)
        else:
            frame = frame[frame["value"].notna()].astype({"value": str})
        frames.append(frame.dropna(subset=["value"]))
    both = pd.concat(frames, ignore_index=True).sort_values(["group", "value"], kind="stable")
    return (
        both["value"].to_numpy(),
        both["group"].to_numpy(),
        both["group"].str.startswith("r:").to_numpy(),
    )
