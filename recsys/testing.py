"""The contract every ranker inherits by naming a factory (implicit's / LensKit's pattern),
shipped with the package so that a ranker in another package (a ``recsys.rankers`` plugin) runs
the same behavioural tests as the built-ins, from its own test suite::

    from recsys.testing import PersonalisedContract  # or RankerContract: no taste to learn

    class TestMyRanker(PersonalisedContract):
        def make_ranker(self) -> Ranker:
            return MyRanker()

It needs pytest (the ``dev`` extra); nothing in the package imports it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys.ranking import InteractionData, Ranker, load_ranker


def checkerboard(n_users: int = 40, n_items: int = 30, seed: int = 0) -> pd.DataFrame:
    """Two taste groups: even users like even items, odd users like odd items; one interaction
    a day per user, in a random order."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2026-01-01", tz="UTC")
    rows = []
    for u in range(n_users):
        liked = [i for i in range(n_items) if i % 2 == u % 2]
        for day, i in enumerate(rng.choice(liked, size=len(liked) - 3, replace=False)):
            rows.append((f"u{u}", f"i{i}", start + pd.Timedelta(days=day, hours=u % 24)))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "occurred_at"])


class RankerContract:
    def make_ranker(self) -> Ranker:  # pragma: no cover - each test class overrides it
        raise NotImplementedError

    @pytest.fixture
    def data(self) -> InteractionData:
        return InteractionData.from_frame(checkerboard(), items=["i-never-seen"])

    @pytest.fixture
    def fitted(self, data: InteractionData) -> Ranker:
        return self.make_ranker().fit(data)

    def test_fit_returns_self(self, data: InteractionData) -> None:
        ranker = self.make_ranker()
        assert ranker.fit(data) is ranker

    def test_scores_follow_the_candidate_order_and_nan_for_unknown_items(
        self, fitted: Ranker
    ) -> None:
        scores = fitted.score("u0", ["i2", "no-such-item", "i1"])
        assert scores.shape == (3,)
        assert np.isnan(scores[1]) and np.isfinite(scores[[0, 2]]).all()
        reversed_scores = fitted.score("u0", ["i1", "no-such-item", "i2"])
        np.testing.assert_allclose(reversed_scores[[2, 0]], scores[[0, 2]])

    def test_recommend_is_sorted_and_respects_exclusions(self, fitted: Ranker) -> None:
        seen = set(fitted.item_ids_[fitted.seen_[0].indices])
        recs = fitted.recommend("u0", 5, exclude=["i4"])
        assert len(recs.item_ids) == 5
        assert list(recs.scores) == sorted(recs.scores, reverse=True)
        assert not (set(recs.item_ids) & seen) and "i4" not in recs.item_ids
        with_seen = fitted.recommend("u0", fitted.item_ids_.size, exclude_seen=False)
        assert seen <= set(with_seen.item_ids)

    def test_recommend_agrees_with_score(self, fitted: Ranker) -> None:
        recs = fitted.recommend("u1", 4)
        np.testing.assert_allclose(fitted.score("u1", list(recs.item_ids)), recs.scores, rtol=1e-5)

    def test_unknown_user_is_handled(self, fitted: Ranker) -> None:
        assert not fitted.knows_user("stranger")
        scores = fitted.score("stranger", ["i0", "i1"])
        assert scores.shape == (2,)
        assert len(fitted.popular_items(3).item_ids) == 3

    def test_save_and_load_give_identical_scores(self, fitted: Ranker, tmp_path: Path) -> None:
        fitted.save(tmp_path / "model")
        loaded = load_ranker(tmp_path / "model")
        assert type(loaded) is type(fitted) and loaded.config == fitted.config
        items = ["i0", "i1", "i2", "i-never-seen"]
        np.testing.assert_array_equal(loaded.score("u3", items), fitted.score("u3", items))
        np.testing.assert_array_equal(
            loaded.recommend("u3", 5).item_ids, fitted.recommend("u3", 5).item_ids
        )

    def test_unknown_hyperparameters_are_refused(self) -> None:
        with pytest.raises(ValueError):
            type(self.make_ranker())({"no_such_param": 1})


class PersonalisedContract(RankerContract):
    """What a ranker that learns from each user's history must also do."""

    def test_learns_the_taste_groups(self, fitted: Ranker) -> None:
        hits = sum(
            item != "i-never-seen" and int(item[1:]) % 2 == u % 2
            for u in range(6)
            for item in fitted.recommend(f"u{u}", 3).item_ids
        )
        assert hits >= 16  # of 18: the unseen items of the user's own group rank first
