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


@register
class TwoStageRanker(LightGBMRanker):
    name = "two_stage"
    Config: ClassVar[type[RankerConfig]] = TwoStageConfig
