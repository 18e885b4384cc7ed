import numpy as np
import pytest

from recsys.ranking import available_rankers, create_ranker
from recsys.ranking.als import ALSRanker
from recsys.ranking.popularity import PopularityRanker
from tests.ranking.contract import PersonalisedContract, RankerContract


class TestPopularity(RankerContract):
    def make_ranker(self) -> PopularityRanker:
        return PopularityRanker()

    def test_scores_are_interaction_counts(self, fitted: PopularityRanker) -> None:
        counts = np.asarray(fitted.seen_.sum(axis=0)).ravel()
        np.testing.assert_array_equal(fitted.score("anyone", list(fitted.item_ids_)), counts)


class TestALS(PersonalisedContract):
    def make_ranker(self) -> ALSRanker:
        return ALSRanker({"factors": 4, "iterations": 15})

    def test_unknown_user_scores_nan(self, fitted: ALSRanker) -> None:
        assert np.isnan(fitted.score("stranger", ["i0"])).all()


def test_registry_by_name() -> None:
    assert {"popularity", "als"} <= set(available_rankers())
    assert isinstance(create_ranker("als", {"factors": 4}), ALSRanker)
    with pytest.raises(ValueError, match="unknown ranker 'nope'"):
        create_ranker("nope")
