"""How sure a difference between two rankers is: a paired bootstrap over the evaluated users.

Offline test sets can be small (ml-latest-small's temporal split leaves 28 test users), and a
relative difference of a few percent in mean NDCG may be one user's luck. Resampling users with
replacement, each keeping both rankers' values, gives an interval for the relative difference
that shows how much the data can tell apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats


@dataclass(frozen=True)
class RelativeDifference:
    """``mean(a) / mean(b) − 1`` over the same users, with a percentile bootstrap interval."""

    estimate: float
    low: float
    high: float
    level: float

    def __str__(self) -> str:
        return f"{self.estimate:+.1%} [{self.low:+.1%}, {self.high:+.1%}]"


def relative_difference(
    a: Mapping[str, float],
    b: Mapping[str, float],
    *,
    clusters: Mapping[str, str] | None = None,
    level: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> RelativeDifference:
    """How much better ``a`` scores than ``b`` on the users both were evaluated on (per-user
    values, e.g. :func:`recsys.evaluation.metrics.ndcg_by_user`).

    ``clusters`` maps a key to the unit that is resampled whole (default: each key alone). Keys
    that are not independent, such as one user's values on several overlapping validation
    splits, must share a cluster, or the interval comes out narrower than the data allow."""
    users = [user for user in a if user in b]
    if not users:
        raise ValueError("the two rankers share no evaluated user")
    x = np.array([a[user] for user in users], dtype=np.float64)
    y = np.array([b[user] for user in users], dtype=np.float64)
    if not y.mean() > 0:
        raise ValueError("the baseline's mean is not positive: no relative difference")
    estimate = float(x.mean() / y.mean() - 1.0)
    # Both rankers have a value for every key, so the ratio of means is the ratio of sums, and
    # a resample of clusters is a resample of their per-cluster sums.
    groups = pd.Index([clusters[user] if clusters else user for user in users])
    codes, unique = pd.factorize(groups)
    x = np.bincount(codes, weights=x, minlength=len(unique))
    y = np.bincount(codes, weights=y, minlength=len(unique))

    def ratio(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
        return x.sum(axis=axis) / y.sum(axis=axis) - 1.0

    if len(unique) < 2 or np.array_equal(x, y):
        return RelativeDifference(estimate, estimate, estimate, level)
    result = stats.bootstrap(
        (x, y),
        ratio,
        paired=True,
        vectorized=True,
        n_resamples=resamples,
        confidence_level=level,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    interval = result.confidence_interval
    return RelativeDifference(estimate, float(interval.low), float(interval.high), level)
