"""Two-stage ranking: a collaborative candidate generator, re-ranked by LightGBM LambdaRank.

The generator's score and rank are features of the re-ranker, beside the FeatureService's user,
item and user × item features. Any registered ranker can generate (``generator=...``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from recsys.ranking.base import RankerConfig
from recsys.ranking.lightgbm_ranker import LightGBMConfig, LightGBMRanker
from recsys.ranking.registry import register


class TwoStageConfig(LightGBMConfig):
    generator: str = "als"
    generator_params: dict[str, Any] = Field(default_factory=dict)
    # Scores as features, chosen on validation splits carved from ml-latest-small's training rows
    # (`recsys evaluate --validation`, NDCG@10). EASE over no extra scorer: 0.171 → 0.186
    # (random protocol), 0.167 → 0.184 (temporal). Adding sequential_knn, random protocol, three
    # validation carves (seeds 42, 7, 11): 0.209/0.222/0.216 → 0.223/0.236/0.232; temporal, four
    # validation cut-offs (--test-ratio 0.2/0.3/0.4/0.5): mean 0.311 → 0.314.
    scorers: list[str] = Field(default_factory=lambda: ["ease", "sequential_knn"])
    # trending_candidates and ensemble stay off (LightGBMConfig's defaults). On the validation
    # splits, one booster / five / five plus 30 trending candidates (7-day half-life) read
    # 0.2831 / 0.2796 / 0.2871 (seven temporal cut-offs) and 0.2224 / 0.2221 / 0.2246 (three
    # random carves); on the test splits the last read 0.1256 against 0.1323 (temporal) and
    # 0.4131 against 0.4134 (random), for ×1.28 the cost per recommendation
    # (benchmarks/reranker_cost.py). Candidate recall of the held-out items did rise (seven
    # temporal cut-offs): ALS's top 100 0.211, plus 30 trending items 0.266.


@register
class TwoStageRanker(LightGBMRanker):
    name = "two_stage"
    Config: ClassVar[type[RankerConfig]] = TwoStageConfig
