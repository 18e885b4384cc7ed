import numpy as np

from recsys.ranking import InteractionData
from recsys.ranking.als import ALSRanker
from recsys.ranking.lightgbm_ranker import LightGBMRanker
from recsys.testing import checkerboard


def test_similar_items_are_co_occurrence_cosines() -> None:
    data = InteractionData.from_frame(checkerboard())
    ranker = ALSRanker({"factors": 4}).fit(data)
    seen = ranker.seen_.toarray() > 0
    item = 0
    similar = ranker.similar_items(ranker.item_ids_[item], 3)
    for other, score in zip(similar.item_ids, similar.scores, strict=True):
        j = ranker._item_index.get_loc(other)
        both = np.sum(seen[:, item] & seen[:, j])
        expected = both / np.sqrt(seen[:, item].sum() * seen[:, j].sum())
        assert score == np.float32(expected) or np.isclose(score, expected)
    assert ranker.item_ids_[item] not in similar.item_ids
    assert ranker.similar_items("unknown", 3).item_ids.size == 0


def test_lightgbm_contributions_add_up_to_the_score() -> None:
    data = InteractionData.from_frame(checkerboard())
    ranker = LightGBMRanker({"n_estimators": 10, "min_data_in_leaf": 2, "candidates": 6}).fit(data)
    items = list(ranker.item_ids_[:5])
    inputs, contributions = ranker.explain("u0", items)
    np.testing.assert_allclose(contributions.sum(axis=1), ranker.score("u0", items)[inputs.index])
    assert list(contributions.columns) == [*ranker.input_columns_, "bias"]
    assert ranker.explain("nobody", items) is None
