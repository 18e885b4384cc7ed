"""The ranking interface (base.py) and one module per algorithm, registered by name."""

from recsys.ranking.base import InteractionData, Ranker, RankerConfig
from recsys.ranking.registry import (
    available_rankers,
    create_ranker,
    get_ranker_class,
    load_ranker,
    protocol_params,
)

__all__ = [
    "InteractionData",
    "Ranker",
    "RankerConfig",
    "available_rankers",
    "create_ranker",
    "get_ranker_class",
    "load_ranker",
    "protocol_params",
]
