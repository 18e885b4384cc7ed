"""Rankers compared on several validation splits, never on a test row: for choosing defaults.

    .venv/bin/python benchmarks/validation.py [--protocol temporal] [--folds 7] \\
        [--model two_stage --model ease] [--param two_stage.label_fraction=0.2] [--baseline ease]

One validation split of a small dataset is a handful of users (ml-latest-small's temporal one:
20), too few to choose anything on. So each fold is its own validation split
(:mod:`recsys.evaluation.folds`): earlier cut-offs under the temporal protocol, other carves of
the same training rows under the random one.

Prints NDCG@k per fold, the mean over every (fold, user) pair, and each ranker's difference to
the baseline on those pairs with a 95 % paired-bootstrap interval (resampling users, each with
all their pairs: the temporal splits overlap).
"""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from recsys.cli import parse_algorithm_params
from recsys.config import Settings
from recsys.evaluation.compare import relative_difference
from recsys.evaluation.environment import describe_environment
from recsys.evaluation.folds import add_fold_arguments, fold_count, validation_fold
from recsys.evaluation.runner import run_evaluation
from recsys.infra.services import resolve_endpoints
from recsys.ranking import available_rankers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_fold_arguments(parser)
    parser.add_argument("--model", action="append", help="repeatable; default: all registered")
    parser.add_argument("--param", action="append", default=[], help="ALGORITHM.KEY=VALUE")
    parser.add_argument("--baseline", default="ease")
    args = parser.parse_args()
    try:
        args.folds = fold_count(args.protocol, args.folds)
    except ValueError as error:
        parser.error(str(error))

    settings = Settings()
    endpoints = resolve_endpoints(settings)
    algorithms = list(args.model or available_rankers())
    if args.baseline not in algorithms:
        algorithms.append(args.baseline)
    common = dict(
        dataset=args.dataset, path=args.path, k=args.k, algorithms=algorithms,
        params=parse_algorithm_params(args.param),
    )  # fmt: skip
    per_fold: dict[str, list[float]] = {name: [] for name in algorithms}
    pooled: dict[str, dict[str, float]] = {name: {} for name in algorithms}
    users = []
    for fold in range(args.folds):
        report = run_evaluation(validation_fold(args.protocol, fold, **common), settings, endpoints)
        users.append(report.test_users)
        for result in report.results:
            per_fold[result.algorithm].append(result.metrics["ndcg"])
            for user, value in result.ndcg_by_user.items():
                pooled[result.algorithm][f"{fold}/{user}"] = value

    table = Table(
        title=f"{args.dataset}, {args.protocol} protocol, {args.folds} validation splits "
        f"({', '.join(map(str, users))} users): NDCG@{args.k}"
        + (f", params {args.param}" if args.param else ""),
        caption=f"measured with {describe_environment()}",
    )
    table.add_column("algorithm")
    for fold in range(args.folds):
        table.add_column(f"split {fold + 1}", justify="right")
    table.add_column("all (split, user)", justify="right")
    table.add_column(f"vs {args.baseline}, 95% CI", justify="right")
    baseline = pooled[args.baseline]
    # The temporal splits overlap: one user is in several (ml-latest-small: 106 pairs, 64
    # users). A user's pairs are resampled together, or the interval is too narrow.
    by_user = {key: key.split("/", 1)[1] for key in baseline}
    means = {name: sum(values.values()) / len(values) for name, values in pooled.items()}
    for name in sorted(algorithms, key=lambda n: -means[n]):
        versus = (
            "-"
            if name == args.baseline
            else str(relative_difference(pooled[name], baseline, clusters=by_user))
        )
        table.add_row(name, *[f"{v:.4f}" for v in per_fold[name]], f"{means[name]:.4f}", versus)
    Console(width=200).print(table)


if __name__ == "__main__":
    main()
