import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from recsys.ranking import InteractionData, available_rankers, create_ranker, protocol_params
from recsys.ranking.als import ALSRanker
from recsys.ranking.bpr import BPRRanker
from recsys.ranking.ease import EASERanker
from recsys.ranking.item_knn import ItemKNNRanker
from recsys.ranking.learning_to_rank import add_trending_rows, carve_labels, relative_scores
from recsys.ranking.lightgbm_ranker import LightGBMConfig, LightGBMRanker
from recsys.ranking.popularity import PopularityRanker
from recsys.ranking.sequential_knn import SequentialKNNRanker
from recsys.ranking.two_stage import TwoStageConfig, TwoStageRanker
from recsys.testing import PersonalisedContract, RankerContract, checkerboard


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
        return InteractionData.from_frame(checkerboard(), items=["i-never-seen"])

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
        no_times = checkerboard().drop(columns="occurred_at")
        with pytest.raises(ValueError, match="occurred_at"):
            PopularityRanker({"half_life_days": 7}).fit(InteractionData.from_frame(no_times))


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
        return EASERanker({"l2": 10.0, "half_life_days": None})

    def test_matches_the_closed_form(self, data: InteractionData) -> None:
        ranker = EASERanker({"l2": 10.0, "half_life_days": None}).fit(data)
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


class TestEASEWithTimeDecay(PersonalisedContract):
    def make_ranker(self) -> EASERanker:
        return EASERanker({"l2": 10.0, "half_life_days": 30})

    def test_recent_co_occurrences_outweigh_old_ones(self) -> None:
        """Long ago six users took `a` with `old`; lately three took `a` with `new`."""
        day = pd.Timestamp("2020-01-01", tz="UTC")
        rows = [(f"o{u}", item, day) for u in range(6) for item in ("a", "old")]
        later = day + pd.Timedelta(days=365)
        rows += [(f"n{u}", item, later) for u in range(3) for item in ("a", "new")]
        rows += [("me", "a", later)]
        data = InteractionData.from_frame(
            pd.DataFrame(rows, columns=["user_id", "item_id", "occurred_at"])
        )
        plain = (
            EASERanker({"l2": 1.0, "half_life_days": None}).fit(data).score("me", ["old", "new"])
        )
        decayed = (
            EASERanker({"l2": 1.0, "half_life_days": 30}).fit(data).score("me", ["old", "new"])
        )
        assert plain[0] > plain[1] and decayed[1] > decayed[0]
        # a half-life far longer than the data's span is plain EASE
        slow = EASERanker({"l2": 1.0, "half_life_days": 1e9}).fit(data).score("me", ["old", "new"])
        np.testing.assert_allclose(slow, plain, rtol=1e-4)

    def test_decay_needs_timestamps(self) -> None:
        no_times = checkerboard().drop(columns="occurred_at")
        with pytest.raises(ValueError, match="occurred_at"):
            EASERanker({"half_life_days": 30}).fit(InteractionData.from_frame(no_times))


class TestSequentialKNN(PersonalisedContract):
    def make_ranker(self) -> SequentialKNNRanker:
        return SequentialKNNRanker({"window": 3})

    @staticmethod
    def timeline(*users: str) -> InteractionData:
        """One interaction a day, in the order each user's string spells the items."""
        day = pd.Timestamp("2026-01-01", tz="UTC")
        rows = [
            (f"u{n}", item, day + pd.Timedelta(days=d))
            for n, items in enumerate(users)
            for d, item in enumerate(items)
        ]
        return InteractionData.from_frame(
            pd.DataFrame(rows, columns=["user_id", "item_id", "occurred_at"])
        )

    def test_only_pairs_close_in_a_timeline_are_similar(self) -> None:
        data = self.timeline("abcdef", "abcdef")
        ranker = SequentialKNNRanker({"window": 2, "decay": 0.5, "popularity_exponent": 0}).fit(
            data
        )
        similarity = pd.DataFrame(
            ranker.similarity_.toarray(), index=ranker.item_ids_, columns=ranker.item_ids_
        )
        # two users, each: neighbours weigh 1, two apart 0.5, further apart nothing
        assert similarity.loc["a", "b"] == similarity.loc["b", "a"] == 2.0
        assert similarity.loc["a", "c"] == 1.0
        assert similarity.loc["a", "d"] == 0.0
        assert similarity.loc["a", "a"] == 0.0

    def test_recent_items_weigh_more_when_asked(self) -> None:
        # u0 took up a long ago and e last; x followed a for u1, y followed e for u2
        data = self.timeline("abcde", "ax", "ey")
        flat = SequentialKNNRanker({"window": 1, "popularity_exponent": 0}).fit(data)
        recent = SequentialKNNRanker({"window": 1, "popularity_exponent": 0, "recency": 0.5}).fit(
            data
        )
        assert flat.score("u0", ["x", "y"]).tolist() == [1.0, 1.0]
        assert recent.score("u0", ["x", "y"]).tolist() == [0.5**4, 1.0]

    def test_needs_timestamps(self) -> None:
        no_times = checkerboard().drop(columns="occurred_at")
        with pytest.raises(ValueError, match="occurred_at"):
            SequentialKNNRanker().fit(InteractionData.from_frame(no_times))


SMALL_BOOSTER = {"n_estimators": 30, "min_data_in_leaf": 5, "candidates": 20}


class TestLightGBM(RankerContract):
    def make_ranker(self) -> LightGBMRanker:
        return LightGBMRanker(SMALL_BOOSTER)

    def test_candidates_come_from_the_generator(self, fitted: LightGBMRanker) -> None:
        popular = PopularityRanker().fit(InteractionData.from_frame(checkerboard()))
        assert set(fitted.candidates("u0", 5).item_ids) <= set(popular.item_ids_)
        assert fitted.training_summary_["positives"] > 0


class TestTwoStage(PersonalisedContract):
    def make_ranker(self) -> TwoStageRanker:
        return TwoStageRanker({**SMALL_BOOSTER, "generator_params": {"factors": 4}})

    @pytest.mark.parametrize("how", ["temporal", "random"])
    def test_labels_are_carved_after_each_users_cutoff(self, how: str) -> None:
        events = checkerboard()
        history, labels, cutoffs = carve_labels(events, how, 0.25, 5, seed=1)
        assert len(history) + len(labels) == len(events)
        assert set(cutoffs.index) == set(labels["user_id"])
        label_cutoff = labels["user_id"].map(cutoffs)
        assert (labels["occurred_at"] < label_cutoff).sum() == (
            0 if how == "temporal" else len(labels)
        )
        history_cutoff = history["user_id"].map(cutoffs)
        assert (history["occurred_at"] < history_cutoff).all()
        assert labels.groupby("user_id").size().eq(3).all()  # 25 % of 12

    def test_generator_scores_are_a_feature(self, fitted: TwoStageRanker) -> None:
        assert {"generator_score", "generator_rank"} <= set(fitted.input_columns_)
        assert isinstance(fitted.scorers_["generator"], ALSRanker)

    def test_any_registered_ranker_can_generate(self, data: InteractionData) -> None:
        ranker = TwoStageRanker(
            {**SMALL_BOOSTER, "generator": "item_knn", "scorers": ["popularity"]}
        )
        ranker.fit(data)
        assert isinstance(ranker.scorers_["generator"], ItemKNNRanker)
        assert "popularity_rank" in ranker.input_columns_

    def test_trending_items_join_the_generators_candidates(self, data: InteractionData) -> None:
        ranker = TwoStageRanker({**SMALL_BOOSTER, "trending_candidates": 3}).fit(data)
        seen = set(ranker.item_ids_[ranker.seen_items("u0")])
        own = ranker.scorers_["generator"].recommend("u0", 4, exclude=["i0"]).item_ids
        pool = ranker.candidates("u0", 4, exclude=["i0"])
        trending = ranker.trending_.recommend("u0", 30, exclude=["i0", *own]).item_ids
        assert list(pool.item_ids) == [*own, *trending[:3]]
        assert np.isnan(pool.scores[4:]).all()
        assert not (set(pool.item_ids) & (seen | {"i0"}))

    def test_an_ensemble_averages_boosters_of_different_seeds(
        self, data: InteractionData, tmp_path: Path
    ) -> None:
        ranker = TwoStageRanker({**SMALL_BOOSTER, "ensemble": 3, "blend": 0}).fit(data)
        items = list(ranker.item_ids_[:10])
        inputs = ranker._inputs("u0", items, None)
        assert inputs is not None
        each = [b.predict(inputs.to_numpy(), num_threads=1) for b in ranker.boosters_]
        assert len(each) == 3 and not np.allclose(each[0], each[1])
        np.testing.assert_allclose(ranker.score("u0", items), np.mean(each, axis=0))
        ranker.save(tmp_path / "model")
        assert len(type(ranker).load(tmp_path / "model").boosters_) == 3

    def test_the_blend_adds_eases_standardised_score_to_the_boosters(
        self, data: InteractionData, tmp_path: Path
    ) -> None:
        ranker = TwoStageRanker({**SMALL_BOOSTER, "ensemble": 2}).fit(data)  # blend 1 by default
        items = list(ranker.item_ids_[:10])
        inputs = ranker._inputs("u0", items, None)
        assert inputs is not None and ranker.blend_ == 1.0
        boosted = np.mean(
            [b.predict(inputs.to_numpy(), num_threads=1) for b in ranker.boosters_], axis=0
        )
        scores = ranker.score("u0", items)
        expected = boosted / ranker.booster_scale_ + inputs["ease_score"].fillna(0).to_numpy()
        np.testing.assert_allclose(scores[inputs.index], expected)
        assert not np.allclose(np.argsort(-scores), np.argsort(-boosted))  # the blend reorders
        # An item's score does not depend on which others are ranked with it.
        np.testing.assert_allclose(ranker.score("u0", items[3:6]), scores[3:6])
        explained_inputs, contributions = ranker.explain("u0", items)
        assert list(contributions.columns)[-2:] == ["bias", "ease_blend"]
        np.testing.assert_allclose(contributions.sum(axis=1), scores[explained_inputs.index])

        ranker.save(tmp_path / "model")
        np.testing.assert_allclose(
            TwoStageRanker.load(tmp_path / "model").score("u0", items), scores
        )
        # An artifact saved before the blend existed ranks by its boosters alone.
        meta_file = tmp_path / "model" / "reranker.json"
        meta = json.loads(meta_file.read_text())
        for key in ("booster_scale", "blend", "blend_with"):
            del meta[key]
        meta_file.write_text(json.dumps(meta))
        old = TwoStageRanker.load(tmp_path / "model")
        np.testing.assert_allclose(old.score("u0", items)[inputs.index], boosted)


def test_the_default_blend_needs_ease_among_the_scorers() -> None:
    assert TwoStageConfig().blend == 1.0 and LightGBMConfig().blend == 0.0
    assert TwoStageConfig(scorers=["sequential_knn"]).blend == 0.0
    assert TwoStageConfig(scorers=["item_knn"], blend_with="item_knn").blend == 1.0
    assert TwoStageConfig(scorers=[], blend_with="generator").blend == 1.0
    with pytest.raises(ValidationError, match="blend_with 'ease' is not one of the scorers"):
        TwoStageConfig(scorers=["sequential_knn"], blend=1.0)
    with pytest.raises(ValidationError, match="blend_with 'item_knn' is not one of the scorers"):
        TwoStageConfig(blend_with="item_knn")  # a typo does not switch the blend off
    with pytest.raises(ValidationError, match="blend_with 'ease'"):
        LightGBMConfig(blend=0.5)


@pytest.mark.parametrize("config", [LightGBMConfig, TwoStageConfig])
def test_the_generator_and_scorers_must_be_rankers(config: type[LightGBMConfig]) -> None:
    """Refused with the parameter's name when configured, not when fitting minutes later."""
    for params, field in (({"generator": "nope"}, "generator"), ({"scorers": ["nope"]}, "scorers")):
        with pytest.raises(ValidationError, match="unknown ranker 'nope'") as refused:
            config(**params)
        assert [error["loc"] for error in refused.value.errors()] == [(field,)]
    assert config(generator="item_knn", scorers=["ease"]).generator == "item_knn"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"generator_params": {"factorz": 8}}, "generator_params of als: factorz: Extra inputs"),
        ({"scorer_params": {"ease": {"l2": "x"}}}, "scorer_params of ease: l2: Input should be"),
        ({"scorer_params": {"item_knn": {"k": 5}}}, r"scorer_params names \['item_knn'\], which"),
    ],
)
def test_nested_params_are_checked_when_configured(params: dict, message: str) -> None:
    """A typo under generator_params or scorer_params is refused with where it is, not found
    after minutes of fitting; params for a ranker that is not a scorer would never be read."""
    with pytest.raises(ValidationError, match=message):
        TwoStageConfig(scorers=["ease"], **params)
    assert TwoStageConfig(generator_params={"factors": 8}).generator_params == {"factors": 8}


def test_trending_rows_count_only_what_happened_before_each_cutoff() -> None:
    day = pd.Timestamp("2026-01-01", tz="UTC")
    events = pd.DataFrame(
        [  # "old" was popular long ago, "new" a little just now, "later" only after u's cut-off
            *[("x", "old", day) for _ in range(5)],
            ("y", "new", day + pd.Timedelta(days=59)),
            ("z", "new", day + pd.Timedelta(days=59)),
            ("u", "mine", day + pd.Timedelta(days=59)),
            *[("y", "later", day + pd.Timedelta(days=61)) for _ in range(9)],
        ],
        columns=["user_id", "item_id", "occurred_at"],
    )
    cutoff = day + pd.Timedelta(days=60)
    rows = pd.DataFrame(
        {"user_id": ["u", "v"], "item_id": ["proposed", "new"], "event_timestamp": cutoff}
    )
    history = events[events["occurred_at"] < cutoff]
    out = add_trending_rows(rows, events, history, 2, half_life_days=7)
    added = out.iloc[len(rows) :]
    assert (added["event_timestamp"] == cutoff).all()
    # u saw "mine"; v already has "new" among its candidates; nobody gets "later"
    assert added.groupby("user_id")["item_id"].agg(list).to_dict() == {
        "u": ["new", "old"],
        "v": ["mine", "old"],
    }


def test_a_random_holdout_takes_each_rankers_own_defaults_for_it() -> None:
    assert protocol_params("ease", random_holdout=False) == {}
    assert protocol_params("ease", random_holdout=True) == {"half_life_days": None}
    assert protocol_params("ease", True, {"half_life_days": 90}) == {"half_life_days": 90}
    assert protocol_params("lightgbm", True) == {"label_split": "random"}
    assert protocol_params("two_stage", True) == {"label_split": "random", "blend": 0.0}
    data = InteractionData.from_frame(checkerboard())
    forecast = TwoStageRanker({**SMALL_BOOSTER, "scorers": ["ease"]}).fit(data)
    assert forecast.scorers_["ease"].config.half_life_days == 730
    holdout = TwoStageRanker({**SMALL_BOOSTER, "scorers": ["ease"], "label_split": "random"})
    assert holdout.fit(data).scorers_["ease"].config.half_life_days is None


def test_temporal_labels_reach_further_ahead_than_random_ones_unless_set() -> None:
    assert TwoStageRanker().label_fraction == 0.5  # temporal carve by default
    assert TwoStageRanker({"label_split": "random"}).label_fraction == 0.2
    assert TwoStageRanker({"label_split": "random", "label_fraction": 0.3}).label_fraction == 0.3
    events = checkerboard()
    _, labels, _ = carve_labels(events, "temporal", TwoStageRanker().label_fraction, 5, seed=0)
    assert labels.groupby("user_id").size().eq(6).all()  # half of each user's 12


def test_scorers_take_their_own_hyperparameters() -> None:
    data = InteractionData.from_frame(checkerboard())
    ranker = TwoStageRanker({
        **SMALL_BOOSTER,
        "generator_params": {"factors": 4},
        "scorers": ["sequential_knn"],
        "scorer_params": {"sequential_knn": {"window": 2}},
    }).fit(data)  # fmt: skip
    assert ranker.scorers_["sequential_knn"].config.window == 2
    assert {"sequential_knn_score", "sequential_knn_rank"} <= set(ranker.input_columns_)


def test_scorer_ranks_count_only_items_the_user_has_not_seen() -> None:
    """The same unseen item has the same rank for a heavy and a light user (the booster must not
    tell users apart by their history length), and standardised scores centre on the unseen."""
    frame = pd.DataFrame(
        {
            "user_id": ["heavy"] * 4 + ["light"] + ["x"] * 5,
            "item_id": ["a", "b", "c", "d", "a", "a", "b", "c", "d", "e"],
        }
    )
    popularity = PopularityRanker().fit(InteractionData.from_frame(frame, items=["f"]))
    rows = pd.DataFrame({"user_id": ["heavy", "light", "light"], "item_id": ["e", "b", "e"]})
    features = relative_scores({"pop": popularity}, rows)
    # counts: a 3, b 2, c 2, d 2, e 1, f 0. heavy's unseen: e, f; light's: b, c, d, e, f
    np.testing.assert_array_equal(features["pop_rank"], [1, 1, 4])
    np.testing.assert_allclose(features["pop_score"][0], 1.0)  # (1 - 0.5) / 0.5
    light = np.array([2, 2, 2, 1, 0])
    np.testing.assert_allclose(features["pop_score"][2], (1 - light.mean()) / light.std())


def test_registry_by_name() -> None:
    builtin = {"popularity", "als", "bpr", "item_knn", "ease", "sequential_knn", "lightgbm"}
    assert builtin | {"two_stage"} <= set(available_rankers())
    assert isinstance(create_ranker("als", {"factors": 4}), ALSRanker)
    with pytest.raises(ValueError, match="unknown ranker 'nope'"):
        create_ranker("nope")


def test_model_inputs_turn_timestamps_into_ages_at_the_rows_time() -> None:
    from recsys.ranking.learning_to_rank import model_inputs

    when = pd.Timestamp("2026-01-11", tz="UTC")
    rows = pd.DataFrame({"user_id": ["u", "u"], "item_id": ["a", "b"], "event_timestamp": when})
    day = pd.Timestamp("2026-01-01", tz="UTC").timestamp()
    store = pd.DataFrame(
        {
            "x__last_ts": np.array([day, None], dtype=object),
            "x__n": np.array([3, None], dtype=object),
        }
    )
    inputs = model_inputs(rows, {"s_score": [0.5, 0.1]}, store, ["x__n"], ["x__last_ts"])
    np.testing.assert_allclose(inputs["x__last_ts_age_days"], [10.0, np.nan])
    np.testing.assert_allclose(inputs["x__n"], [3.0, np.nan])
    as_strings = rows.assign(event_timestamp=["2026-01-11T00:00:00Z"] * 2)
    again = model_inputs(as_strings, {"s_score": [0.5, 0.1]}, store, ["x__n"], ["x__last_ts"])
    np.testing.assert_allclose(again["x__last_ts_age_days"], [10.0, np.nan])
