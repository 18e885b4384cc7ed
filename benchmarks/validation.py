"""Rankers compared on several validation splits, never on a test row: for choosing defaults.

    .venv/bin/python benchmarks/validation.py [--protocol temporal] [--folds 4] \\
        [--model two_stage --model ease] [--param two_stage.label_fraction=0.2] [--baseline ease]

One validation split of a small dataset is a handful of users (ml-latest-small's temporal one:
20), too few to choose anything on. So each fold is its own validation split:
- temporal: fold i is `recsys evaluate --validation --test-ratio 0.2+0.1·i`; each outer split
  ends earlier, so every validation cut-off lies inside the training rows of the 0.2 split;
- random: fold i carves its validation rows with seed 42+i from the same training rows
  (test ratio 0.25, outer seed 42), so the test rows stay out.

Prints NDCG@k per fold, the mean over every (fold, user) pair, and each ranker's difference to
the baseline on those pairs with a 95 % paired-bootstrap interval.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table

from recsys.cli import parse_algorithm_params
from recsys.config import Settings
from recsys.evaluation.compare import relative_difference
from recsys.evaluation.runner import EvaluationSpec, run_evaluation
from recsys.infra.services import resolve_endpoints
from recsys.ranking import available_rankers

OUTER_TEST_RATIO = {"temporal": 0.2, "random": 0.25}
SEED = 42


def fold_spec(protocol: str, fold: int, **common: object) -> EvaluationSpec:
    if protocol == "temporal":
        ratio = round(OUTER_TEST_RATIO["temporal"] + 0.1 * fold, 2)
        return EvaluationSpec(protocol="temporal", test_ratio=ratio, validation=True, **common)
    return EvaluationSpec(
        protocol="random",
        test_ratio=OUTER_TEST_RATIO["random"],
        validation=True,
        validation_seed=SEED + fold,
        **common,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--protocol", choices=sorted(OUTER_TEST_RATIO), default="temporal")
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--dataset", default="movielens")
    parser.add_argument("--path", type=Path, default=None)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--model", action="append", help="repeatable; default: all registered")
    parser.add_argument("--param", action="append", default=[], help="ALGORITHM.KEY=VALUE")
    parser.add_argument("--baseline", default="ease")
    args = parser.parse_args()
    if not 1 <= args.folds <= (7 if args.protocol == "temporal" else 100):
        parser.error("--folds: 1 to 7 for temporal (test ratios up to 0.8), up to 100 for random")

    settings = Settings()
    endpoints = resolve_endpoints(settings)
    algorithms = list(args.model or available_rankers())
    if args.baseline not in algorithms:
        algorithms.append(args.baseline)
    common = dict(
        dataset=args.dataset, path=args.path, seed=SEED, k=args.k, algorithms=algorithms,
        params=parse_algorithm_params(args.param),
    )  # fmt: skip
    per_fold: dict[str, list[float]] = {name: [] for name in algorithms}
    pooled: dict[str, dict[str, float]] = {name: {} for name in algorithms}
    users = []
    for fold in range(args.folds):
        report = run_evaluation(fold_spec(args.protocol, fold, **common), settings, endpoints)
        users.append(report.test_users)
        for result in report.results:
            per_fold[result.algorithm].append(result.metrics["ndcg"])
            for user, value in result.ndcg_by_user.items():
                pooled[result.algorithm][f"{fold}/{user}"] = value

    table = Table(
        title=f"{args.dataset}, {args.protocol} protocol, {args.folds} validation splits "
        f"({', '.join(map(str, users))} users): NDCG@{args.k}"
        + (f", params {args.param}" if args.param else "")
    )
    table.add_column("algorithm")
    for fold in range(args.folds):
        table.add_column(f"split {fold + 1}", justify="right")
    table.add_column("all (split, user)", justify="right")
    table.add_column(f"vs {args.baseline}, 95% CI", justify="right")
    baseline = pooled[args.baseline]
    means = {name: sum(values.values()) / len(values) for name, values in pooled.items()}
    for name in sorted(algorithms, key=lambda n: -means[n]):
        versus = "-" if name == args.baseline else str(relative_difference(pooled[name], baseline))
        table.add_row(name, *[f"{v:.4f}" for v in per_fold[name]], f"{means[name]:.4f}", versus)
    Console(width=200).print(table)


if __name__ == "__main__":
    main()
