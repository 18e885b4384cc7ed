"""Two-stage ranking: a collaborative candidate generator, re-ranked by LightGBM LambdaRank.

The generator's score and rank are features of the re-ranker, beside the FeatureService's user,
item and user × item features. Any registered ranker can generate (``generator=...``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, model_validator

from recsys.ranking.base import RankerConfig
from recsys.ranking.lightgbm_ranker import LightGBMConfig, LightGBMRanker
from recsys.ranking.registry import register

DEFAULT_SCORERS = ("ease", "sequential_knn")


class TwoStageConfig(LightGBMConfig):
    generator: str = "als"
    generator_params: dict[str, Any] = Field(default_factory=dict)
    # Scores as features, chosen on validation splits carved from ml-latest-small's training rows
    # (`recsys evaluate --validation`, NDCG@10). EASE over no extra scorer: 0.171 → 0.186
    # (random protocol), 0.167 → 0.184 (temporal). Adding sequential_knn, random protocol, three
    # validation carves (seeds 42, 7, 11): 0.209/0.222/0.216 → 0.223/0.236/0.232; temporal, four
    # validation cut-offs (--test-ratio 0.2/0.3/0.4/0.5): mean 0.311 → 0.314.
    scorers: list[str] = Field(default_factory=lambda: list(DEFAULT_SCORERS))
    # Five boosters averaged, plus the 30 items most popular lately (7-day half-life) as extra
    # candidates: chosen on the validation splits (with the point-in-time genre counts of
    # 5565eef), one booster without trending read 0.2957 (seven temporal cut-offs) and 0.2224
    # (three random carves), five with trending 0.3039 and 0.2247. It costs ×1.28 per
    # recommendation (benchmarks/reranker_cost.py). An earlier session kept both off after
    # looking at the test splits, which is not how defaults are chosen here (review).
    ensemble: int = Field(
        5, ge=1, description="Boosters trained with consecutive seeds; their scores are averaged"
    )
    trending_candidates: int = Field(
        30, ge=0, description="Recently popular items added to the generator's candidates"
    )
    # 50 trees, not the re-ranker's 100: on the same validation splits, 0.3039 → 0.3099 (seven
    # temporal cut-offs) and 0.2247 → 0.2246 (three random carves), at half the boosters' cost.
    # Every sign on temporal validation said the booster overfits: 200 trees 0.2987, learning
    # rate 0.1 0.2901, 31 leaves 0.2943, 7 leaves 0.3090 (benchmarks/validation.py, 2026-12-03).
    n_estimators: int = Field(50, ge=1)
    # EASE's score added to the boosters' (in units of their spread over the training rows):
    # on the seven temporal validation cut-offs 0.3099 → 0.3119 / 0.3136 / 0.3134 / 0.3125 with
    # weights 0.5 / 1 / 2 / 3 (EASE alone 0.3064). The boosters learn from a few hundred users'
    # labels and on their own only tie EASE; together the two beat either.
    blend: float = Field(1.0, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _default_blend_only_with_its_scorer(cls, data: Any) -> Any:
        """Scorers that leave EASE out turn the default blend off; a blend or blend_with given
        without its scorer is still refused (a typo must not rank by the boosters alone)."""
        if not isinstance(data, dict) or "blend" in data or "blend_with" in data:
            return data
        if "ease" not in data.get("scorers", DEFAULT_SCORERS):
            return {**data, "blend": 0.0}
        return data


@register
class TwoStageRanker(LightGBMRanker):
    name = "two_stage"
    Config: ClassVar[type[RankerConfig]] = TwoStageConfig
    # On the three random validation carves the blend drags the boosters towards EASE, which
    # trails them there (EASE 0.2084, boosters 0.2246, blended 0.2122 / 0.2102 at 0.5 / 1).
    random_protocol_params: ClassVar[dict[str, Any]] = {
        **LightGBMRanker.random_protocol_params,
        "blend": 0.0,
    }
