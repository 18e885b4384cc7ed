"""Several validation splits of one dataset, for choosing defaults on more users than one split
holds (ml-latest-small's temporal validation split has about 20).

- temporal: fold i is the validation carve of the outer split with test ratio 0.2 + 0.1·i
  (`recsys evaluate --validation --test-ratio …`): each outer split ends earlier, so every
  validation cut-off lies inside the training rows of the 0.2 split, and no fold reads a test row
  of it;
- random: fold i carves its validation rows with seed 42 + i from the same training rows (test
  ratio 0.25, outer seed 42), so the test rows of that split stay out.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from recsys.evaluation.runner import EvaluationSpec

OUTER_TEST_RATIO = {"temporal": 0.2, "random": 0.25}
SEED = 42
#: Temporal folds end at test ratio 0.8: later ones would leave too little to fit on.
MAX_TEMPORAL_FOLDS = 7
#: Every temporal fold (on ml-latest-small 106 (fold, user) pairs; four folds were 80 and read
#: +5.8 % for two_stage over EASE where all seven read +0.6 %); three random ones (610 users each).
DEFAULT_FOLDS = {"temporal": MAX_TEMPORAL_FOLDS, "random": 3}
MAX_RANDOM_FOLDS = 100


def add_fold_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of every benchmark that runs on the validation folds: --protocol, --folds,
    --dataset, --path and --k."""
    parser.add_argument("--protocol", choices=sorted(DEFAULT_FOLDS), default="temporal")
    parser.add_argument("--folds", type=int, help="default: 7 temporal, 3 random")
    parser.add_argument("--dataset", default="movielens")
    parser.add_argument("--path", type=Path, default=None)
    parser.add_argument("--k", type=int, default=10)


def fold_count(protocol: str, requested: int | None) -> int:
    """How many folds to run: ``requested``, or the protocol's default."""
    folds = DEFAULT_FOLDS[protocol] if requested is None else requested
    limit = MAX_TEMPORAL_FOLDS if protocol == "temporal" else MAX_RANDOM_FOLDS
    if not 1 <= folds <= limit:
        raise ValueError(f"--folds: 1 to {limit} under the {protocol} protocol, got {folds}")
    return folds


def validation_fold(protocol: str, fold: int, **common: Any) -> EvaluationSpec:
    """The spec of validation fold ``fold`` (0-based) under ``protocol``."""
    if protocol == "temporal":
        if not 0 <= fold < MAX_TEMPORAL_FOLDS:
            raise ValueError(f"temporal folds are 0 to {MAX_TEMPORAL_FOLDS - 1}, got {fold}")
        ratio = round(OUTER_TEST_RATIO["temporal"] + 0.1 * fold, 2)
        return EvaluationSpec(
            protocol="temporal", test_ratio=ratio, validation=True, seed=SEED, **common
        )
    if protocol == "random":
        return EvaluationSpec(
            protocol="random",
            test_ratio=OUTER_TEST_RATIO["random"],
            validation=True,
            validation_seed=SEED + fold,
            seed=SEED,
            **common,
        )
    raise ValueError(f"protocol must be temporal or random, got {protocol!r}")
