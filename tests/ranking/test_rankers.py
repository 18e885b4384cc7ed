import numpy as np
import pandas as pd
import pytest

from recsys.ranking import InteractionData, available_rankers, create_ranker
from recsys.ranking.als import ALSRanker
from recsys.ranking.bpr import BPRRanker
from recsys.ranking.ease import EASERanker
from recsys.ranking.item_knn import ItemKNNRanker
from recsys.ranking.popularity import PopularityRanker
from tests.ranking.contract import PersonalisedContract, RankerContract


class TestPopularity(RankerContract):
    def make_ranker(self) -> PopularityRanker:
        return PopularityRanker()

    def test_scores_are_interaction_counts(self, fitted: PopularityRanker) -> None:
        counts = np.asarray(fitted.seen_.sum(axis=0)).ravel()
        np.testing.assert_array_equal(fitted.score("anyone", list(fitted.item_ids_)), counts)


class TestPopularityWithTimeDecay(RankerContract):
    def make_ranker(self) -> PopularityRanker:
        return PopularityRanker({"half_life_days": 7})

    @pytest.fixture
    def data(self) -> InteractionData:
        from tests.ranking.contract import checkerboard

        frame = checkerboard()
        frame["occurred_at"] = pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(
            np.arange(len(frame)) % 60, unit="D"
        )
        return InteractionData.from_frame(frame, items=["i-never-seen"])

    def test_a_recent_interaction_outweighs_old_ones(self) -> None:
        day = pd.Timestamp("2026-01-01", tz="UTC")
        frame = pd.DataFrame(
            {
                "user_id": ["a", "b", "c", "d"],
                "item_id": ["old", "old", "old", "new"],
                "occurred_at": [day, day, day, day + pd.Timedelta(days=70)],
            }
        )
        data = InteractionData.from_frame(frame)
        decayed = PopularityRanker({"half_life_days": 7}).fit(data)
        assert decayed.popular_items(1).item_ids.tolist() == ["new"]
        # three interactions 10 half-lives old weigh 3/1024 of one today
        np.testing.assert_allclose(decayed.score("x", ["old", "new"]), [3 / 1024, 1.0])
        assert PopularityRanker().fit(data).popular_items(1).item_ids.tolist() == ["old"]

    def test_decay_needs_timestamps(self) -> None:
        from tests.ranking.contract import checkerboard

        with pytest.raises(ValueError, match="occurred_at"):
            PopularityRanker({"half_life_days": 7}).fit(InteractionData.from_frame(checkerboard()))


class TestALS(PersonalisedContract):
    def make_ranker(self) -> ALSRanker:
        return ALSRanker({"factors": 4, "iterations": 15})

    def test_unknown_user_scores_nan(self, fitted: ALSRanker) -> None:
        assert np.isnan(fitted.score("stranger", ["i0"])).all()


class TestBPR(PersonalisedContract):
    def make_ranker(self) -> BPRRanker:
        return BPRRanker({"factors": 8, "iterations": 200, "learning_rate": 0.05})


class TestItemKNN(PersonalisedContract):
    def make_ranker(self) -> ItemKNNRanker:
        return ItemKNNRanker({"neighbours": 20})

    @pytest.mark.parametrize("similarity", ["cosine", "tfidf"])
    def test_other_similarities(self, data: InteractionData, similarity: str) -> None:
        ranker = ItemKNNRanker({"similarity": similarity, "neighbours": 20}).fit(data)
        assert np.isfinite(ranker.score("u0", ["i0", "i1"])).all()


class TestEASE(PersonalisedContract):
    def make_ranker(self) -> EASERanker:
        return EASERanker({"l2": 10.0})

    def test_matches_the_closed_form(self, data: InteractionData) -> None:
        ranker = EASERanker({"l2": 10.0}).fit(data)
        x = (data.matrix.toarray() > 0).astype(float)
        x = x[:, x.sum(axis=0) > 0]  # EASE leaves never-seen items out of its matrix
        p = np.linalg.inv(x.T @ x + 10.0 * np.eye(x.shape[1]))
        b = np.eye(x.shape[1]) - p / np.diag(p)
        active = data.item_ids[np.asarray(data.matrix.sum(axis=0)).ravel() > 0]
        np.testing.assert_allclose(
            ranker.score("u5", list(active)),
            x[list(data.user_ids).index("u5")] @ b,
            rtol=1e-4,
            atol=1e-6,
        )
        assert ranker.score("u5", ["i-never-seen"]).tolist() == [0.0]


def test_registry_by_name() -> None:
    assert {"popularity", "als", "bpr", "item_knn", "ease"} <= set(available_rankers())
    assert isinstance(create_ranker("als", {"factors": 4}), ALSRanker)
    with pytest.raises(ValueError, match="unknown ranker 'nope'"):
        create_ranker("nope")
