"""Is a week's quality drop beyond noise? A one-sided two-sample z-test from stored numbers.

A user's requests in a week are not independent draws: they share the user's taste and rise and
fall together, so each week's mean is treated as a mean over users
(:func:`monitoring.online_quality.drop_statistics`).

- Weeks of at least ``MIN_USERS`` users each: the variance of each week's mean is the
  cluster-robust one, estimated from how the users' own numbers spread around it.
- Fewer users (their spread says too little), or a week reported before that was stored: the
  variance bound of a [0, 1] mean, mean × (1 − mean) / n, with n the effective number of users
  (a user's requests counted as one draw; for a week reported earlier, its lists), which errs
  towards calling a drop noise.

A 71 % CTR "drop" from one request to three (an audit's week) is not an alert; a fall from 0.2
to 0.03 over a hundred and sixty lists is. Treating requests as independent raised alerts in
20 % of weeks without any change in a review's simulation with heavy users.
"""

from __future__ import annotations

import math

from scipy.stats import norm

#: A drop over the alert fraction is an alert only when its one-sided p-value is below this.
DROP_ALPHA = 0.01
#: Users each week needs for the variance to be estimated from their spread.
MIN_USERS = 30


def drop_p_value(before: float, n_before: float, after: float, n_after: float) -> float:
    """P(a fall at least this large | both weeks have the same mean), with the variance bound
    of the pooled mean; 1.0 when either week has no lists."""
    if n_before < 1 or n_after < 1:
        return 1.0
    pooled = (before * n_before + after * n_after) / (n_before + n_after)
    spread = pooled * (1.0 - pooled) * (1.0 / n_before + 1.0 / n_after)
    if spread <= 0:
        return 1.0 if after >= before else 0.0
    return float(norm.sf((before - after) / math.sqrt(spread)))


def spread_drop_p_value(
    before: float, variance_before: float, after: float, variance_after: float
) -> float:
    """P(a fall at least this large | the same mean), from each week's estimated variance of
    its mean."""
    spread = variance_before + variance_after
    if spread <= 0:
        return 1.0 if after >= before else 0.0
    return float(norm.sf((before - after) / math.sqrt(spread)))
