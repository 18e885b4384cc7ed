"""Top-k ranking metrics over plain Python mappings, in the spirit of microsoft/recommenders'
``python_evaluation`` but with one simple input shape:

- ``recommendations``: user id → that user's ranked item ids, best first;
- ``relevant``: user id → the user's relevant (held-out test) item ids.

Conventions shared by the accuracy metrics (:func:`ndcg_at_k` … :func:`hit_rate_at_k`):

- The evaluated users are the keys of ``relevant`` whose set is non-empty. A user missing from
  ``recommendations`` (or with an empty list) counts as all misses. Extra users in
  ``recommendations`` are ignored. With no user to evaluate a :class:`ValueError` is raised.
- Lists are cut to their first ``k`` items; a shorter list simply has fewer chances to hit
  (precision still divides by ``k``). An item repeated within a list counts only at its first
  position (later repeats are misses).
- Relevance is binary and each metric is averaged over users with equal weight.

Each user's top-k is turned into one boolean hit matrix (users × k) and every metric is a
vectorised reduction of it, so :func:`evaluate_all` builds it once for all of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet

import numpy as np
import pandas as pd

Recommendations = Mapping[str, Sequence[str]]
Relevant = Mapping[str, AbstractSet[str]]


def _check_k(k: int) -> None:
    if int(k) != k or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")


def _hits(
    recommendations: Recommendations, relevant: Relevant, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Boolean hits (users × k) and the number of relevant items per evaluated user."""
    _check_k(k)
    users = [user for user, items in relevant.items() if len(items) > 0]
    if not users:
        raise ValueError("no user with relevant items to evaluate")
    hits = np.zeros((len(users), k), dtype=bool)
    n_relevant = np.empty(len(users), dtype=np.float64)
    for row, user in enumerate(users):
        wanted = relevant[user]
        n_relevant[row] = len(wanted)
        seen: set[str] = set()
        for col, item in enumerate(list(recommendations.get(user, ()))[:k]):
            if item in wanted and item not in seen:
                hits[row, col] = True
            seen.add(item)
    return hits, n_relevant


def _discounts(k: int) -> np.ndarray:
    """1 / log2(rank + 1) for ranks 1..k."""
    return 1.0 / np.log2(np.arange(2, k + 2, dtype=np.float64))


def _ndcg_per_user(hits: np.ndarray, n_relevant: np.ndarray) -> np.ndarray:
    k = hits.shape[1]
    discounts = _discounts(k)
    dcg = hits @ discounts
    ideal = np.cumsum(discounts)[np.minimum(n_relevant, k).astype(int) - 1]
    return dcg / ideal


def _ndcg(hits: np.ndarray, n_relevant: np.ndarray) -> float:
    return float(np.mean(_ndcg_per_user(hits, n_relevant)))


def _precision(hits: np.ndarray) -> float:
    return float(np.mean(hits.sum(axis=1) / hits.shape[1]))


def _recall(hits: np.ndarray, n_relevant: np.ndarray) -> float:
    return float(np.mean(hits.sum(axis=1) / n_relevant))


def _map(hits: np.ndarray, n_relevant: np.ndarray) -> float:
    k = hits.shape[1]
    precision_at_rank = np.cumsum(hits, axis=1) / np.arange(1, k + 1)
    average_precision = (precision_at_rank * hits).sum(axis=1) / np.minimum(n_relevant, k)
    return float(np.mean(average_precision))


def _mrr(hits: np.ndarray) -> float:
    first = hits.argmax(axis=1)
    reciprocal = np.where(hits.any(axis=1), 1.0 / (first + 1), 0.0)
    return float(np.mean(reciprocal))


def _hit_rate(hits: np.ndarray) -> float:
    return float(np.mean(hits.any(axis=1)))


def ndcg_at_k(recommendations: Recommendations, relevant: Relevant, k: int) -> float:
    """Normalised discounted cumulative gain with binary relevance.

    DCG = Σ_{hits at rank r ≤ k} 1 / log2(r + 1); the ideal DCG puts min(k, |relevant|) hits at
    ranks 1, 2, …, so a user with fewer than k relevant items can still reach 1.0.
    """
    return _ndcg(*_hits(recommendations, relevant, k))


def ndcg_by_user(recommendations: Recommendations, relevant: Relevant, k: int) -> dict[str, float]:
    """Each evaluated user's NDCG@k (users with relevant items, in ``relevant`` order): the
    values :func:`ndcg_at_k` averages, for comparing two rankers user by user."""
    users = [user for user, items in relevant.items() if len(items) > 0]
    per_user = _ndcg_per_user(*_hits(recommendations, relevant, k))
    return dict(zip(users, per_user.tolist(), strict=True))


def precision_at_k(recommendations: Recommendations, relevant: Relevant, k: int) -> float:
    """Hits in the top k divided by k (so at most |relevant| / k for a small relevant set)."""
    hits, _ = _hits(recommendations, relevant, k)
    return _precision(hits)


def recall_at_k(recommendations: Recommendations, relevant: Relevant, k: int) -> float:
    """Hits in the top k divided by |relevant| (so at most k / |relevant| for a large set)."""
    return _recall(*_hits(recommendations, relevant, k))


def map_at_k(recommendations: Recommendations, relevant: Relevant, k: int) -> float:
    """Mean average precision at k.

    AP@k = Σ_{hits at rank r ≤ k} precision@r / min(k, |relevant|): the normalisation of
    microsoft/recommenders' ``map_at_k`` (and Spark's ``meanAveragePrecisionAt``), so a perfect
    top k scores 1.0 even when the user has more than k relevant items. (Recommenders' ``map``
    divides by |relevant| instead; that variant is not provided.)
    """
    return _map(*_hits(recommendations, relevant, k))


def mrr_at_k(recommendations: Recommendations, relevant: Relevant, k: int) -> float:
    """Mean reciprocal rank of each user's first hit within the top k (0 when there is none)."""
    hits, _ = _hits(recommendations, relevant, k)
    return _mrr(hits)


def hit_rate_at_k(recommendations: Recommendations, relevant: Relevant, k: int) -> float:
    """Share of evaluated users with at least one hit in their top k."""
    hits, _ = _hits(recommendations, relevant, k)
    return _hit_rate(hits)


def catalog_coverage(recommendations: Recommendations, catalog_size: int, k: int) -> float:
    """Distinct items across every user's top k, divided by ``catalog_size``.

    Every list in ``recommendations`` counts (pass only the evaluated users' lists if that is
    what should be measured). No recommendations at all give 0.0.
    """
    _check_k(k)
    if catalog_size <= 0:
        raise ValueError(f"catalog_size must be positive, got {catalog_size!r}")
    distinct: set[str] = set()
    for items in recommendations.values():
        distinct.update(list(items)[:k])
    return len(distinct) / catalog_size


def novelty(
    recommendations: Recommendations,
    item_popularity: Mapping[str, float],
    n_users: int,
    k: int,
) -> float:
    """Mean self-information −log2 p(i) over every recommended slot (user, rank ≤ k).

    ``item_popularity`` maps an item to the number of distinct *training* users who interacted
    with it and ``n_users`` is the number of training users, so p(i) = popularity / n_users
    (see :func:`item_user_counts`). An item absent from ``item_popularity`` (or with
    popularity 0), i.e. never seen in training, gets the smallest nonzero p of the mapping
    (1 / n_users if the mapping has none): it is treated as being as novel as the rarest
    training item rather than infinitely novel. Every list in ``recommendations`` counts;
    an item recommended to many users weighs that many times (as in microsoft/recommenders'
    ``novelty``). No recommendations at all give 0.0.
    """
    _check_k(k)
    if n_users <= 0:
        raise ValueError(f"n_users must be positive, got {n_users!r}")
    counts = np.fromiter(item_popularity.values(), dtype=np.float64, count=len(item_popularity))
    positive = counts[counts > 0]
    floor = float(positive.min()) if positive.size else 1.0
    recommended = [item for items in recommendations.values() for item in list(items)[:k]]
    if not recommended:
        return 0.0
    popularity = np.array(
        [item_popularity.get(item, 0.0) for item in recommended], dtype=np.float64
    )
    popularity[~(popularity > 0)] = floor
    return float(np.mean(-np.log2(popularity / n_users)))


def item_user_counts(train: pd.DataFrame) -> dict[str, int]:
    """Number of distinct users per item in an interactions frame (``user_id``, ``item_id``):
    the ``item_popularity`` that :func:`novelty` expects, with ``n_users`` =
    ``train["user_id"].nunique()``."""
    pairs = train[["user_id", "item_id"]].astype(str).drop_duplicates()
    return {str(item): int(n) for item, n in pairs["item_id"].value_counts().items()}


def evaluate_all(
    recommendations: Recommendations,
    relevant: Relevant,
    k: int,
    catalog_size: int,
    item_popularity: Mapping[str, float],
    n_users: int,
) -> dict[str, float]:
    """Every metric at k in one pass: ``ndcg, precision, recall, map, mrr, hit_rate, coverage,
    novelty``.

    Coverage and novelty are computed over the evaluated users' lists only (the users in
    ``relevant`` with a non-empty set), so all eight numbers describe the same users.
    """
    hits, n_relevant = _hits(recommendations, relevant, k)
    evaluated = {
        user: recommendations.get(user, ()) for user, items in relevant.items() if len(items) > 0
    }
    return {
        "ndcg": _ndcg(hits, n_relevant),
        "precision": _precision(hits),
        "recall": _recall(hits, n_relevant),
        "map": _map(hits, n_relevant),
        "mrr": _mrr(hits),
        "hit_rate": _hit_rate(hits),
        "coverage": catalog_coverage(evaluated, catalog_size, k),
        "novelty": novelty(evaluated, item_popularity, n_users, k),
    }
