"""Hand-computed cases for the ranking metrics, plus a cross-check against plain loops."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from recsys.evaluation.metrics import (
    catalog_coverage,
    evaluate_all,
    hit_rate_at_k,
    item_user_counts,
    map_at_k,
    mrr_at_k,
    ndcg_at_k,
    ndcg_by_user,
    novelty,
    precision_at_k,
    recall_at_k,
)

ACCURACY = (ndcg_at_k, precision_at_k, recall_at_k, map_at_k, mrr_at_k, hit_rate_at_k)


def test_perfect_ranking_scores_one() -> None:
    recs = {"u": ["a", "b", "c"], "v": ["x", "y", "z"]}
    relevant = {"u": {"a", "b", "c"}, "v": {"x", "y", "z"}}  # |relevant| == k
    for metric in ACCURACY:
        assert metric(recs, relevant, 3) == pytest.approx(1.0), metric.__name__


def test_perfect_ranking_with_more_relevant_than_k() -> None:
    recs = {"u": ["a", "b"]}
    relevant = {"u": {"a", "b", "c", "d"}}
    assert ndcg_at_k(recs, relevant, 2) == pytest.approx(1.0)
    assert precision_at_k(recs, relevant, 2) == pytest.approx(1.0)
    assert map_at_k(recs, relevant, 2) == pytest.approx(1.0)  # normalised by min(k, 4) = 2
    assert recall_at_k(recs, relevant, 2) == pytest.approx(0.5)


def test_perfect_ranking_with_fewer_relevant_than_k() -> None:
    recs = {"u": ["a", "b", "x", "y", "z"]}
    relevant = {"u": {"a", "b"}}
    assert ndcg_at_k(recs, relevant, 5) == pytest.approx(1.0)  # ideal DCG over min(5, 2) hits
    assert recall_at_k(recs, relevant, 5) == pytest.approx(1.0)
    assert map_at_k(recs, relevant, 5) == pytest.approx(1.0)
    assert precision_at_k(recs, relevant, 5) == pytest.approx(2 / 5)


def test_no_hits_scores_zero() -> None:
    recs = {"u": ["x", "y", "z"], "v": ["p", "q"]}
    relevant = {"u": {"a"}, "v": {"b", "c"}}
    for metric in ACCURACY:
        assert metric(recs, relevant, 3) == 0.0, metric.__name__


def test_known_ndcg_value() -> None:
    # Relevant items at ranks 2 and 4, two relevant items, k = 5:
    # DCG = 1/log2(3) + 1/log2(5) = 0.63093 + 0.43068 = 1.06161
    # IDCG = 1/log2(2) + 1/log2(3) = 1 + 0.63093 = 1.63093  →  NDCG = 0.65093
    recs = {"u": ["x", "a", "y", "b", "z"]}
    relevant = {"u": {"a", "b"}}
    expected = (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    assert ndcg_at_k(recs, relevant, 5) == pytest.approx(expected)
    assert ndcg_at_k(recs, relevant, 5) == pytest.approx(0.650921, abs=1e-6)


def test_known_map_precision_recall() -> None:
    # Same list: hits at ranks 2 and 4 → AP = (1/2 + 2/4) / min(5, 2) = 0.5
    recs = {"u": ["x", "a", "y", "b", "z"]}
    relevant = {"u": {"a", "b"}}
    assert map_at_k(recs, relevant, 5) == pytest.approx(0.5)
    assert precision_at_k(recs, relevant, 5) == pytest.approx(2 / 5)
    assert recall_at_k(recs, relevant, 5) == pytest.approx(1.0)
    # k = 3 keeps only the hit at rank 2: AP = (1/2) / min(3, 2) = 0.25, recall 1/2
    assert map_at_k(recs, relevant, 3) == pytest.approx(0.25)
    assert recall_at_k(recs, relevant, 3) == pytest.approx(0.5)


def test_mrr_first_hit_at_rank_three() -> None:
    recs = {"u": ["x", "y", "a", "b"]}
    relevant = {"u": {"a", "b"}}
    assert mrr_at_k(recs, relevant, 4) == pytest.approx(1 / 3)
    assert mrr_at_k(recs, relevant, 2) == 0.0  # the hit is beyond k


def test_averages_over_users_and_missing_user_counts_as_misses() -> None:
    recs = {"u": ["a", "x"], "extra": ["a"]}  # "extra" has no relevant set: ignored
    relevant = {"u": {"a"}, "w": {"b"}}  # "w" has no recommendations: all misses
    assert hit_rate_at_k(recs, relevant, 2) == pytest.approx(0.5)
    assert mrr_at_k(recs, relevant, 2) == pytest.approx(0.5)
    assert precision_at_k(recs, relevant, 2) == pytest.approx((1 / 2 + 0) / 2)
    assert recall_at_k(recs, relevant, 2) == pytest.approx(0.5)


def test_repeated_item_counts_once() -> None:
    recs = {"u": ["a", "a", "a"]}
    relevant = {"u": {"a", "b"}}
    assert precision_at_k(recs, relevant, 3) == pytest.approx(1 / 3)
    assert recall_at_k(recs, relevant, 3) == pytest.approx(1 / 2)


def test_invalid_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="k must be"):
        ndcg_at_k({"u": ["a"]}, {"u": {"a"}}, 0)
    with pytest.raises(ValueError, match="no user"):
        ndcg_at_k({"u": ["a"]}, {}, 5)
    with pytest.raises(ValueError, match="catalog_size"):
        catalog_coverage({"u": ["a"]}, 0, 5)


def test_catalog_coverage() -> None:
    recs = {"u": ["a", "b", "c"], "v": ["b", "d", "e"]}
    assert catalog_coverage(recs, 10, 2) == pytest.approx(3 / 10)  # {a, b, d}
    assert catalog_coverage(recs, 10, 3) == pytest.approx(5 / 10)
    assert catalog_coverage({}, 10, 3) == 0.0


def test_novelty() -> None:
    # 8 training users: "a" seen by 4 (p = 1/2, 1 bit), "b" by 2 (p = 1/4, 2 bits),
    # "c" by 1 (p = 1/8, 3 bits); "z" unseen → the smallest nonzero p, 1/8 (3 bits).
    popularity = {"a": 4, "b": 2, "c": 1, "gone": 0}
    assert novelty({"u": ["a", "b"]}, popularity, 8, 2) == pytest.approx((1 + 2) / 2)
    assert novelty({"u": ["a", "b"], "v": ["a", "c"]}, popularity, 8, 2) == pytest.approx(
        (1 + 2 + 1 + 3) / 4
    )
    assert novelty({"u": ["a", "z"]}, popularity, 8, 2) == pytest.approx((1 + 3) / 2)
    assert novelty({"u": ["a", "b", "c"]}, popularity, 8, 1) == pytest.approx(1.0)
    assert novelty({}, popularity, 8, 2) == 0.0
    # the rarest training item has 2 users here, so an unseen item gets p = 2/8 (2 bits)
    assert novelty({"u": ["z"]}, {"a": 4, "b": 2}, 8, 1) == pytest.approx(2.0)


def test_item_user_counts_counts_distinct_users() -> None:
    train = pd.DataFrame({"user_id": ["1", "1", "2", "3"], "item_id": ["a", "a", "a", "b"]})
    assert item_user_counts(train) == {"a": 2, "b": 1}


def test_evaluate_all_keys_and_values() -> None:
    recs = {"u": ["x", "a", "y", "b", "z"], "other": ["q"]}
    relevant = {"u": {"a", "b"}}
    result = evaluate_all(recs, relevant, 5, catalog_size=10, item_popularity={"a": 1}, n_users=2)
    assert list(result) == [
        "ndcg", "precision", "recall", "map", "mrr", "hit_rate", "coverage", "novelty"
    ]  # fmt: skip
    assert result["ndcg"] == pytest.approx(ndcg_at_k(recs, relevant, 5))
    assert result["map"] == pytest.approx(0.5)
    assert result["mrr"] == pytest.approx(0.5)
    assert result["coverage"] == pytest.approx(5 / 10)  # only evaluated users' lists
    assert result["novelty"] == pytest.approx(1.0)  # every item has p = 1/2
    assert all(isinstance(value, float) for value in result.values())


# -- cross-check against straightforward loops, written here independently -----------------
def _loop_metrics(recs: dict, relevant: dict, k: int) -> dict[str, float]:
    totals = {"ndcg": 0.0, "precision": 0.0, "recall": 0.0, "map": 0.0, "mrr": 0.0, "hit": 0.0}
    for user, wanted in relevant.items():
        ranked = recs.get(user, [])[:k]
        dcg = 0.0
        hits = 0
        precision_sum = 0.0
        first = 0.0
        for position, item in enumerate(ranked, start=1):
            if item in wanted:
                hits += 1
                dcg += 1.0 / math.log2(position + 1)
                precision_sum += hits / position
                if first == 0.0:
                    first = 1.0 / position
        idcg = sum(1.0 / math.log2(i + 1) for i in range(1, min(k, len(wanted)) + 1))
        totals["ndcg"] += dcg / idcg
        totals["precision"] += hits / k
        totals["recall"] += hits / len(wanted)
        totals["map"] += precision_sum / min(k, len(wanted))
        totals["mrr"] += first
        totals["hit"] += 1.0 if hits else 0.0
    return {name: value / len(relevant) for name, value in totals.items()}


@pytest.mark.parametrize("k", [1, 3, 10])
def test_matches_loop_implementation_on_random_data(k: int) -> None:
    rng = np.random.default_rng(7)
    catalogue = [f"i{n}" for n in range(40)]
    recs: dict[str, list[str]] = {}
    relevant: dict[str, set[str]] = {}
    for user in range(200):
        n_recs = int(rng.integers(0, 15))
        recs[f"u{user}"] = list(rng.choice(catalogue, size=n_recs, replace=False))
        relevant[f"u{user}"] = set(
            rng.choice(catalogue, size=int(rng.integers(1, 12)), replace=False)
        )
    expected = _loop_metrics(recs, relevant, k)
    assert 0.0 < expected["ndcg"] < 1.0  # the data exercises partial hits
    assert ndcg_at_k(recs, relevant, k) == pytest.approx(expected["ndcg"])
    assert precision_at_k(recs, relevant, k) == pytest.approx(expected["precision"])
    assert recall_at_k(recs, relevant, k) == pytest.approx(expected["recall"])
    assert map_at_k(recs, relevant, k) == pytest.approx(expected["map"])
    assert mrr_at_k(recs, relevant, k) == pytest.approx(expected["mrr"])
    assert hit_rate_at_k(recs, relevant, k) == pytest.approx(expected["hit"])


def test_ndcg_by_user_holds_the_values_ndcg_averages() -> None:
    recs = {"hit": ["a", "x"], "miss": ["x", "y"], "second": ["x", "b"]}
    relevant = {"hit": {"a"}, "miss": {"c"}, "second": {"b"}, "nothing": set()}
    by_user = ndcg_by_user(recs, relevant, 2)
    assert list(by_user) == ["hit", "miss", "second"]  # users without relevant items are skipped
    assert by_user["hit"] == 1.0 and by_user["miss"] == 0.0
    assert by_user["second"] == pytest.approx(1 / math.log2(3))
    assert np.mean(list(by_user.values())) == pytest.approx(ndcg_at_k(recs, relevant, 2))
