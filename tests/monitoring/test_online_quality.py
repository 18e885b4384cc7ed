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


def test_drop_statistics_by_hand() -> None:
    from monitoring.online_quality import drop_statistics, per_request

    # user a asked twice (a hit at rank 1, then nothing), user b once (a hit at rank 2)
    served = _served({"r1": ["x", "y"], "r2": ["z"], "r3": ["w", "v"]}, {"r1": "a", "r2": "a"})
    served.loc[served["request_id"] == "r3", "user_id"] = "b"
    feedback = pd.DataFrame({"request_id": ["r1", "r3"], "item_id": ["x", "v"]})
    got = drop_statistics(served, per_request(served, feedback, k=10))
    # CTR: 2 positives over 5 slots; a has (1 of 3), b (1 of 2)
    ctr_mean = 2 / 5
    ctr_variance = ((1 - ctr_mean * 3) ** 2 + (1 - ctr_mean * 2) ** 2) / 5**2 * 2
    assert got["ctr"] == pytest.approx({"variance": ctr_variance, "users": 2, "n": 25 / 13})
    # hit rate: a 1 hit in 2 requests, b 1 in 1
    hit_variance = ((1 - 2 / 3 * 2) ** 2 + (1 - 2 / 3) ** 2) / 3**2 * 2
    assert got["hit_rate"] == pytest.approx({"variance": hit_variance, "users": 2, "n": 9 / 5})
    b_ndcg = 1 / np.log2(3)  # one relevant item, found at rank 2
    ndcg_mean = (1 + b_ndcg) / 3
    ndcg_variance = ((1 - 2 * ndcg_mean) ** 2 + (b_ndcg - ndcg_mean) ** 2) / 3**2 * 2
    assert got["ndcg"] == pytest.approx({"variance": ndcg_variance, "users": 2, "n": 9 / 5})
    # a request without a user is its own cluster; lists without items have no CTR slots
    anonymous = drop_statistics(served.assign(user_id=None), per_request(served, feedback, k=10))
    assert anonymous["hit_rate"]["users"] == 3 and anonymous["hit_rate"]["n"] == pytest.approx(3)
    empty = pd.DataFrame({"request_id": ["r1", "r2"], "user_id": ["a", "b"], "item_id": None,
                          "rank": np.nan})  # fmt: skip
    assert drop_statistics(empty, per_request(empty, feedback, k=10))["ctr"] == {
        "variance": 0.0,
        "users": 0,
        "n": 0.0,
    }


def test_the_clustered_drop_test_holds_its_false_alarm_rate_where_requests_do_not() -> None:
    """Weeks of 200 users drawn from one population (heavy-tailed request counts, each user
    their own click rate): a test over requests calls chance differences between weeks drops;
    the one over users' spread keeps to about its 1 %, and still sees a real 40 % fall."""
    from monitoring.online_quality import drop_statistics, per_request, quality_of
    from monitoring.quality_drop import DROP_ALPHA, drop_p_value, spread_drop_p_value

    rng = np.random.default_rng(3)

    def week(scale: float) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
        users = 200
        asks = np.minimum(rng.zipf(1.8, users), 200)
        rates = rng.beta(1, 6, users) * scale
        user = np.repeat(np.arange(users), asks)
        clicked = rng.random(user.size) < rates[user]
        ids = [f"r{i}" for i in range(user.size)]
        served = pd.DataFrame({"request_id": ids, "user_id": user.astype(str), "item_id": "x",
                               "rank": 1})  # fmt: skip
        feedback = pd.DataFrame({"request_id": np.asarray(ids)[clicked], "item_id": "x"})
        rows = per_request(served, feedback, k=1)
        return quality_of(rows), drop_statistics(served, rows)

    def alarms(scale_after: float, runs: int = 150) -> tuple[float, float]:
        by_requests = by_users = 0
        for _ in range(runs):
            (q1, s1), (q2, s2) = week(1.0), week(scale_after)
            a, b = q1["hit_rate"], q2["hit_rate"]
            by_requests += drop_p_value(a, q1["requests"], b, q2["requests"]) < DROP_ALPHA
            spread = spread_drop_p_value(
                a, s1["hit_rate"]["variance"], b, s2["hit_rate"]["variance"]
            )
            by_users += spread < DROP_ALPHA
        return by_requests / runs, by_users / runs

    requests_null, users_null = alarms(1.0)
    assert requests_null > 0.05 and users_null <= 0.03, (requests_null, users_null)
    _, users_drop = alarms(0.6)
    assert users_drop > 0.2, users_drop
