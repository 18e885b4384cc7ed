"""Offline quality of every ranker, side by side, under the temporal and random protocols.

    .venv/bin/python benchmarks/quality.py [--dataset movielens] [--path DIR] [--k 10]

Runs `recsys evaluate`'s production path (Postgres + Feast on the configured or embedded servers)
once per protocol and prints one table per protocol: NDCG, precision, recall, MAP, MRR, hit rate,
coverage and novelty at k, with fit and scoring seconds, each ranker's NDCG relative to the best
single-stage ranker in the same run, and for re-rankers their NDCG relative to their own candidate
generator, each with a 95 % interval from a paired bootstrap over the test users (how much the
test set can tell apart). Random protocol: test ratio 0.25, seed 42. Every ranker runs with its
defaults (chosen on validation splits: `recsys evaluate --validation`), never tuned on these
test rows.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from recsys.config import Settings
from recsys.evaluation.compare import relative_difference
from recsys.evaluation.environment import describe_environment
from recsys.evaluation.runner import AlgorithmResult, EvaluationSpec, run_evaluation
from recsys.infra.services import resolve_endpoints
from recsys.ranking import available_rankers, create_ranker, get_ranker_class

PROTOCOLS = (("temporal", 0.2), ("random", 0.25))


def _versus(result: AlgorithmResult, baseline: AlgorithmResult) -> str:
    """NDCG relative to the baseline, with its 95 % paired-bootstrap interval over users."""
    if baseline is result:
        return "+0.0%"
    if not baseline.metrics["ndcg"]:
        return "-"
    return str(relative_difference(result.ndcg_by_user, baseline.ndcg_by_user))


def _generator(result: AlgorithmResult, by_name: dict[str, AlgorithmResult]) -> str:
    generator = getattr(create_ranker(result.algorithm).config, "generator", None)
    if generator not in by_name:
        return "-"
    return f"{_versus(result, by_name[generator])} vs {generator}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="movielens")
    parser.add_argument("--path", type=Path, default=None)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--model", action="append", help="repeatable; default: all registered")
    args = parser.parse_args()

    settings = Settings()
    endpoints = resolve_endpoints(settings)
    console = Console(width=200)  # tables for notes and logs: never truncate numbers
    algorithms = args.model or available_rankers()
    console.print(f"measured with {describe_environment()}")
    for protocol, ratio in PROTOCOLS:
        spec = EvaluationSpec(
            dataset=args.dataset, path=args.path, protocol=protocol, test_ratio=ratio,
            seed=42, k=args.k, algorithms=algorithms,
        )  # fmt: skip
        started = time.perf_counter()
        report = run_evaluation(spec, settings, endpoints)
        wall = time.perf_counter() - started
        by_name = {r.algorithm: r for r in report.results}
        single = [
            r for r in report.results if not get_ranker_class(r.algorithm).uses_store_features
        ]
        best = max(single or report.results, key=lambda r: r.metrics["ndcg"])
        table = Table(
            title=f"{args.dataset}, {protocol} protocol (test ratio {ratio}, seed 42): "
            f"{report.train_rows} train / {report.test_rows} test rows, "
            f"{report.test_users} users, {wall:.0f}s in all"
        )
        names = list(report.results[0].metrics)
        for column in [
            "algorithm",
            *[f"{n}@{args.k}" for n in names],
            f"vs best single-stage ({best.algorithm}), 95% CI",
            "vs own generator, 95% CI",
            "fit s",
            "score s",
        ]:
            table.add_column(column, justify="left" if column == "algorithm" else "right")
        for r in sorted(report.results, key=lambda r: -r.metrics["ndcg"]):
            table.add_row(
                r.algorithm,
                *[f"{r.metrics[n]:.4f}" for n in names],
                _versus(r, best),
                _generator(r, by_name),
                f"{r.fit_seconds:.2f}",
                f"{r.score_seconds:.2f}",
            )
        console.print(table)


if __name__ == "__main__":
    main()
