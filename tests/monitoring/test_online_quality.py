import numpy as np
import pandas as pd
import pytest

from monitoring.online_quality import distribution, personalization, positive_feedback, quality


def _served(lists: dict[str, list[str]], users: dict[str, str] | None = None) -> pd.DataFrame:
    rows = [
        {"request_id": r, "user_id": (users or {}).get(r, r), "item_id": i, "rank": rank}
        for r, items in lists.items()
        for rank, i in enumerate(items, 1)
    ]
    return pd.DataFrame(rows)


def test_quality_by_hand() -> None:
    served = _served({"r1": ["a", "b", "c"], "r2": ["d", "e", "f"]})
    feedback = pd.DataFrame({"request_id": ["r1", "r1", "x"], "item_id": ["b", "z", "a"]})
    got = quality(served, feedback, k=3)
    assert got["requests"] == 2
    assert got["ctr"] == pytest.approx(1 / 6)  # one positive slot (b) of six
    assert got["hit_rate"] == pytest.approx(1 / 2)
    # r1: relevant {b, z}; DCG = 1/log2(3); IDCG = 1 + 1/log2(3); r2 has no feedback: 0
    assert got["ndcg"] == pytest.approx((1 / np.log2(3)) / (1 + 1 / np.log2(3)) / 2)
    assert got["mrr"] == pytest.approx(0.5 / 2)


def test_perfect_and_empty_feedback() -> None:
    served = _served({"r1": ["a", "b"]})
    perfect = quality(served, pd.DataFrame({"request_id": ["r1"], "item_id": ["a"]}), k=2)
    assert (perfect["ndcg"], perfect["mrr"], perfect["hit_rate"]) == (1.0, 1.0, 1.0)
    none = quality(served, pd.DataFrame({"request_id": [], "item_id": []}), k=2)
    assert (none["ndcg"], none["ctr"], none["hit_rate"]) == (0.0, 0.0, 0.0)


def test_positive_feedback_keeps_clicks_and_good_ratings() -> None:
    events = pd.DataFrame(
        {
            "event_type": ["click", "view", "rating", "rating", "purchase"],
            "rating": [None, None, 4.5, 2.0, None],
        }
    )
    kept = positive_feedback(events)
    assert kept.index.tolist() == [0, 2, 4]


def test_distribution_and_personalization() -> None:
    served = _served({"r1": ["a", "b"], "r2": ["a", "b"], "r3": ["c", "d"]})
    popularity = {"a": 10, "b": 10, "c": 1, "d": 1, "e": 2}
    got = distribution(served, popularity, n_users=10, catalogue=set("abcde"), k=2)
    assert got["coverage"] == pytest.approx(4 / 5)
    with_new = _served({"r1": ["a", "b"], "r2": ["c", "d"], "r3": ["new", "newer"]})
    # items outside the catalogue (passed to /rank) do not count: a share, never 6 / 5
    coverage = distribution(with_new, popularity, 10, catalogue=set("abcde"), k=2)["coverage"]
    assert coverage == pytest.approx(4 / 5)
    assert got["popularity_bias"] == pytest.approx(np.mean([10, 10, 10, 10, 1, 1]) / 4.8)
    # pairs: (r1, r2) overlap 1, (r1, r3) 0, (r2, r3) 0
    assert got["personalization"] == pytest.approx(1 - 1 / 3)
    assert personalization({"u": ["a"], "v": ["a"]}) == 0.0


@pytest.mark.parametrize("length", [10, 5])  # 5: every list shorter than k (Evidently failed)
def test_evidently_agrees_with_the_projects_online_metrics(length: int) -> None:
    from monitoring.evidently_quality import run_quality_report

    rng = np.random.default_rng(3)
    lists = {f"r{r}": [f"i{r}-{rank}" for rank in range(1, length + 1)] for r in range(80)}
    served = _served(lists)
    clicked = served[rng.random(len(served)) < 0.08]
    feedback = clicked[["request_id", "item_id"]]
    ours = quality(served, feedback, k=10)
    _, theirs = run_quality_report(served, feedback, k=10)
    for name in ("ndcg", "mrr", "hit_rate"):
        assert theirs[name] == pytest.approx(ours[name], abs=1e-12), name
    assert 0 < ours["ndcg"] < 1


def test_vectorised_quality_equals_the_metric_functions() -> None:
    from monitoring.online_quality import quality_by_metric_functions

    rng = np.random.default_rng(5)
    lists = {f"r{r}": list(rng.choice(200, 12, replace=False).astype(str)) for r in range(300)}
    served = _served(lists)
    picks = served.sample(frac=0.1, random_state=1)[["request_id", "item_id"]]
    elsewhere = pd.DataFrame(  # feedback on items that were not in the list
        {"request_id": [f"r{r}" for r in range(0, 300, 7)], "item_id": "not-served"}
    )
    feedback = pd.concat([picks, elsewhere, picks.head(5)])  # and some repeated events
    for k in (1, 5, 10, 12):
        fast, reference = (
            quality(served, feedback, k),
            quality_by_metric_functions(served, feedback, k),
        )
        for name in reference:
            assert fast[name] == pytest.approx(reference[name], abs=1e-12), (k, name)


def test_distribution_equals_the_metric_functions() -> None:
    from recsys.evaluation.metrics import catalog_coverage, novelty

    rng = np.random.default_rng(8)
    lists = {f"r{r}": list(rng.choice(300, 10, replace=False).astype(str)) for r in range(200)}
    served = _served(lists)
    popularity = {str(i): int(rng.integers(0, 50)) for i in range(250)}  # 250..299 unseen
    got = distribution(served, popularity, n_users=60, catalogue={str(i) for i in range(300)}, k=5)
    top5 = {r: items[:5] for r, items in lists.items()}
    assert got["coverage"] == pytest.approx(catalog_coverage(top5, 300, 5))
    assert got["novelty"] == pytest.approx(novelty(top5, popularity, 60, 5))


def test_effective_lists_of_a_ctr() -> None:
    from monitoring.online_quality import effective_lists

    equal = _served({f"r{i}": [f"i{j}" for j in range(10)] for i in range(5)})
    assert effective_lists(equal, k=10) == pytest.approx(5)
    # one list of 10 and nine of 1: 19 slots, worth (19)² / (100 + 9) lists, not 10
    uneven = _served({"long": [f"i{j}" for j in range(10)]} | {f"r{i}": ["x"] for i in range(9)})
    assert effective_lists(uneven, k=10) == pytest.approx(19**2 / 109)
    assert effective_lists(uneven, k=1) == pytest.approx(10)  # only the top slot counts


def test_effective_sizes_count_a_users_requests_as_one_draw() -> None:
    from monitoring.online_quality import effective_lists, effective_sizes

    each_once = _served({f"r{i}": [f"i{j}" for j in range(10)] for i in range(5)})
    assert effective_sizes(each_once, k=10) == pytest.approx(
        {"ndcg": 5, "hit_rate": 5, "ctr": effective_lists(each_once, k=10)}
    )
    # one user asked nine times, nine others once: 18 requests worth 18² / (81 + 9) users
    lists = {f"r{i}": ["a", "b"] for i in range(18)}
    owners = {f"r{i}": "heavy" for i in range(9)} | {f"r{i}": f"u{i}" for i in range(9, 18)}
    got = effective_sizes(_served(lists, owners), k=10)
    assert got["ndcg"] == pytest.approx(18**2 / 90) and got["ctr"] == pytest.approx(36**2 / 360)
    # a request without a user is its own draw
    anonymous = _served(lists, owners).assign(user_id=None)
    assert effective_sizes(anonymous, k=10)["ndcg"] == pytest.approx(18)
