"""What the served lists did, from the serve log and the feedback attributed to it (pure pandas).

Each served request is one ranked list; an event carrying that request's id is feedback on it.
A list's relevant items are the items with positive feedback (a click, a purchase, a like, or a
rating of at least ``min_rating``). Ranking metrics treat each request as a "user" of the
project's own metric functions (:mod:`recsys.evaluation.metrics`), so offline and online numbers
mean the same thing.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

import numpy as np
import pandas as pd

from recsys.evaluation.metrics import mrr_at_k, ndcg_at_k

POSITIVE_EVENTS = frozenset({"click", "purchase", "like", "add_to_cart", "rating"})


def positive_feedback(
    events: pd.DataFrame, positive: Iterable[str] = POSITIVE_EVENTS, min_rating: float = 4.0
) -> pd.DataFrame:
    """Events (request_id, item_id, event_type, rating) that say "this was relevant"."""
    positive = frozenset(positive)
    kind = events["event_type"].isin(positive)
    rated = events["event_type"] == "rating"
    good_rating = pd.to_numeric(events["rating"], errors="coerce").fillna(-np.inf) >= min_rating
    return events[kind & (~rated | good_rating)]


def per_request(served: pd.DataFrame, feedback: pd.DataFrame, k: int) -> pd.DataFrame:
    """One row per served request (index: request id as text, in first-served order): its
    ``slots`` (items at rank ≤ k), ``positives`` (those with positive feedback), ``ndcg`` and
    ``rr`` (reciprocal rank of the first positive), 0 for a list without feedback or items."""
    requests = pd.Index(pd.unique(served["request_id"].astype(str)), name="request_id")
    out = pd.DataFrame(0.0, index=requests, columns=["slots", "positives", "ndcg", "rr"])
    slots = served.loc[served["rank"] <= k, ["request_id", "item_id", "rank"]]
    if slots.empty:
        return out
    slots = slots.astype({"request_id": str, "item_id": str})
    positive = feedback[["request_id", "item_id"]].astype(str).drop_duplicates()
    positive = positive[positive["request_id"].isin(set(slots["request_id"]))]
    n_relevant = positive.groupby("request_id").size()
    hits = slots.merge(positive, on=["request_id", "item_id"], how="inner")
    hits = hits.drop_duplicates(["request_id", "item_id"])
    gains = 1.0 / np.log2(hits["rank"].to_numpy() + 1.0)
    dcg = pd.Series(gains, index=hits["request_id"]).groupby(level=0).sum()
    discounts = np.cumsum(1.0 / np.log2(np.arange(2, k + 2)))  # IDCG for 1..k relevant items
    ideal = pd.Series(discounts[np.minimum(n_relevant.to_numpy(), k) - 1], index=n_relevant.index)
    out["slots"] = slots.groupby("request_id").size().reindex(requests, fill_value=0)
    out["positives"] = hits.groupby("request_id").size().reindex(requests, fill_value=0)
    out["ndcg"] = (dcg / ideal.reindex(dcg.index)).reindex(requests, fill_value=0.0)
    out["rr"] = (1.0 / hits.groupby("request_id")["rank"].min()).reindex(requests, fill_value=0.0)
    return out


def quality(served: pd.DataFrame, feedback: pd.DataFrame, k: int) -> dict[str, float]:
    """``served``: request_id, item_id, rank (one row per served slot; a list that served nothing
    is one row without item and rank, and counts as a miss). ``feedback``: the positive,
    attributed events. CTR = positive served slots / slots; hit rate = lists with a
    positive / lists; NDCG@k and MRR@k over every list (a list without feedback scores 0).

    Vectorised (a week is millions of slots); :func:`quality_by_metric_functions` computes the
    same numbers with the offline metric functions, and a test holds the two equal."""
    return quality_of(per_request(served, feedback, k))


def quality_of(rows: pd.DataFrame) -> dict[str, float]:
    """:func:`quality` from :func:`per_request`'s rows."""
    slots = rows["slots"].sum()
    if not slots:
        return {"requests": float(len(rows)), "ctr": 0.0, "hit_rate": 0.0, "ndcg": 0.0, "mrr": 0.0}
    return {
        "requests": float(len(rows)),
        "ctr": float(rows["positives"].sum() / slots),
        "hit_rate": float((rows["positives"] > 0).mean()),
        "ndcg": float(rows["ndcg"].mean()),
        "mrr": float(rows["rr"].mean()),
    }


def effective_lists(served: pd.DataFrame, k: int) -> float:
    """How many lists of equal length the CTR's slots are worth: (Σ m)² / Σ m² over the lists'
    slot counts m (at most k; a list that served nothing has none). Equal to the number of lists
    when they all have k items, far fewer when a few long lists hold most slots."""
    slots = served.loc[served["rank"] <= k].groupby("request_id").size().to_numpy(np.float64)
    squares = float((slots**2).sum())
    return float(slots.sum() ** 2 / squares) if squares else 0.0


def drop_statistics(served: pd.DataFrame, rows: pd.DataFrame) -> dict[str, dict[str, float]]:
    """For each watched mean (``ctr`` over slots, ``ndcg`` and ``hit_rate`` over requests), what
    next week's drop test needs, with a user's requests in the week as one cluster (they share
    the user's taste, so they rise and fall together):

    - ``variance``: the cluster-robust variance of the mean, Σ_u (y_u − m·w_u)² / (Σ w)² ·
      G / (G − 1), y_u and w_u the user's sums of the metric and of its weights (requests or
      slots), m the mean, G the users;
    - ``users``: G; ``n``: (Σ w)² / Σ w², the effective size if a user's requests moved fully
      together (the worst case, for weeks of too few users to estimate a variance from).
    ``rows``: :func:`per_request` of ``served`` (computed once for the week's quality too).
    """
    first = served.drop_duplicates("request_id")
    owner = pd.Series(
        first["user_id"]
        .where(first["user_id"].notna(), first["request_id"])
        .astype(str)
        .to_numpy(),
        index=first["request_id"].astype(str).to_numpy(),
    )
    users = (
        rows.assign(
            user=owner.reindex(rows.index).to_numpy(),
            requests=1.0,
            hit=(rows["positives"] > 0).astype(float),
        )  # fmt: skip
        .groupby("user")[["requests", "slots", "positives", "hit", "ndcg"]]
        .sum()
    )
    return {
        "ctr": _clustered(users["positives"].to_numpy(), users["slots"].to_numpy()),
        "ndcg": _clustered(users["ndcg"].to_numpy(), users["requests"].to_numpy()),
        "hit_rate": _clustered(users["hit"].to_numpy(), users["requests"].to_numpy()),
    }


def _clustered(sums: np.ndarray, weights: np.ndarray) -> dict[str, float]:
    """:func:`drop_statistics` of one mean Σ sums / Σ weights over clusters."""
    total, clusters = float(weights.sum()), int((weights > 0).sum())
    if not total:
        return {"variance": 0.0, "users": clusters, "n": 0.0}
    mean = sums.sum() / total
    correction = clusters / (clusters - 1) if clusters > 1 else 1.0
    variance = float(((sums - mean * weights) ** 2).sum() / total**2 * correction)
    return {"variance": variance, "users": clusters, "n": total**2 / float((weights**2).sum())}


def quality_by_metric_functions(
    served: pd.DataFrame, feedback: pd.DataFrame, k: int
) -> dict[str, float]:
    """:func:`quality`, list by list through :mod:`recsys.evaluation.metrics` (slow; the
    reference the vectorised version is tested against)."""
    lists = {
        str(r): list(g.dropna(subset=["item_id"]).sort_values("rank")["item_id"].astype(str))
        for r, g in served.groupby("request_id", sort=False)
    }
    relevant: dict[str, set[str]] = {r: set() for r in lists}
    for request, item in feedback[["request_id", "item_id"]].astype(str).itertuples(index=False):
        if request in relevant:
            relevant[request].add(item)
    slots = sum(min(len(items), k) for items in lists.values())
    positive_slots = sum(len(set(items[:k]) & relevant[r]) for r, items in lists.items())
    hits = sum(1 for r, items in lists.items() if set(items[:k]) & relevant[r])
    # The metric functions skip lists with nothing relevant: here those lists count as misses.
    with_feedback = {r: lists[r] for r in lists if relevant[r]}
    share = len(with_feedback) / len(lists) if lists else 0.0
    if with_feedback:
        wanted = {r: relevant[r] for r in with_feedback}
        ndcg = ndcg_at_k(with_feedback, wanted, k) * share
        mrr = mrr_at_k(with_feedback, wanted, k) * share
    else:
        ndcg = mrr = 0.0
    return {
        "requests": float(len(lists)),
        "ctr": positive_slots / slots if slots else 0.0,
        "hit_rate": hits / len(lists) if lists else 0.0,
        "ndcg": ndcg,
        "mrr": mrr,
    }


def distribution(
    served: pd.DataFrame,
    item_popularity: Mapping[str, float],
    n_users: int,
    catalogue: Collection[str],
    k: int,
    pairs: int = 2_000,
    seed: int = 0,
) -> dict[str, float]:
    """What was put in front of people, over the top-k slots of every list: catalogue coverage
    (the share of ``catalogue``'s items served; items outside it, e.g. new ones a caller passed
    to `/rank`, do not count, so it stays a share),
    novelty (−log2 of the training popularity share, as :func:`~recsys.evaluation.metrics.
    novelty`), popularity bias (mean training popularity of served items relative to the mean
    item's) and personalisation (1 − mean overlap between two random users' first lists)."""
    slots = served[served["rank"] <= k]
    if slots.empty:
        return {"coverage": 0.0, "novelty": 0.0, "popularity_bias": 0.0, "personalization": 0.0}
    items = slots["item_id"].astype(str)
    popularity = items.map(item_popularity).astype(float).fillna(0.0).to_numpy()
    counts = np.fromiter(item_popularity.values(), dtype=np.float64, count=len(item_popularity))
    positive = counts[counts > 0]
    floor = float(positive.min()) if positive.size else 1.0
    novelty = float(
        np.mean(-np.log2(np.where(popularity > 0, popularity, floor) / max(n_users, 1)))
    )
    mean_popularity = float(counts.mean()) if counts.size else 0.0
    # each sampled user's first list of the week
    if "served_at" in slots:
        slots = slots.sort_values(["served_at", "request_id", "rank"], kind="stable")
    first = slots.drop_duplicates("user_id")[["user_id", "request_id"]]
    rng = np.random.default_rng(seed)
    chosen = first.iloc[rng.permutation(len(first))[: 2 * pairs]]
    lists = (
        slots[slots["request_id"].isin(set(chosen["request_id"]))]
        .sort_values(["request_id", "rank"])
        .groupby("user_id")["item_id"]
        .agg(list)
        .to_dict()
    )
    return {
        "coverage": items[items.isin(catalogue)].nunique() / len(catalogue) if catalogue else 0.0,
        "novelty": novelty,
        "popularity_bias": float(popularity.mean()) / mean_popularity if mean_popularity else 0.0,
        "personalization": personalization(lists, pairs, seed),
    }


def personalization(lists: Mapping[str, list[str]], pairs: int = 2_000, seed: int = 0) -> float:
    """1 − the mean Jaccard overlap of two different users' lists, over ``pairs`` random pairs
    (all pairs when there are fewer): 0 = everyone gets the same list, 1 = no two lists share."""
    users = [u for u, items in lists.items() if items]
    if len(users) < 2:
        return 0.0
    rng = np.random.default_rng(seed)
    sets = [set(lists[u]) for u in users]
    n = len(sets)
    if n * (n - 1) // 2 <= pairs:
        chosen = [(a, b) for a in range(n) for b in range(a + 1, n)]
    else:
        a = rng.integers(0, n, pairs)
        b = (a + rng.integers(1, n, pairs)) % n
        chosen = list(zip(a.tolist(), b.tolist(), strict=True))
    overlaps = [len(sets[a] & sets[b]) / len(sets[a] | sets[b]) for a, b in chosen]
    return 1.0 - float(np.mean(overlaps))
