"""Is a week's quality drop beyond noise? A one-sided two-sample z-test from the stored numbers.

Hit rate and NDCG are means over lists of values in [0, 1], and the variance of such a value is at
most mean × (1 − mean) (equality for a 0/1 value, as a hit is), so with n = the week's lists the
test errs towards calling a drop noise. CTR is a mean over slots, weighted by each list's length:
its n is the effective number of lists, (Σ slots)² / Σ slots² (n = lists would overstate it when
a few long lists hold most slots: 5.5 % false alarms at p < 0.01 in a review's simulation). A
user's several requests in a week are not independent either (they share the user's taste), so n
counts users, each weighted by their requests or slots
(:func:`monitoring.online_quality.effective_sizes`). It needs only what a week's summary row
keeps. A 71 % CTR "drop" from one request to three (an audit's week) is not an alert; a fall
from 0.2 to 0.03 over a hundred and sixty lists is.
"""

from __future__ import annotations

import math

from scipy.stats import norm

#: A drop over the alert fraction is an alert only when its one-sided p-value is below this.
DROP_ALPHA = 0.01


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
