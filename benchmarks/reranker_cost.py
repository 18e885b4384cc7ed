"""What a re-ranker's options cost per recommendation and per fit, measured side by side.

    .venv/bin/python benchmarks/reranker_cost.py [--model two_stage] [--users 200] [--rounds 5] \\
        [--variant default=] [--variant both=trending_candidates=30,ensemble=5]

Each variant is ``NAME=KEY=VALUE,KEY=VALUE`` (empty: the ranker's defaults). Every variant is
fitted once on the dataset's interactions in-process (no stores, so store features are missing
and the booster learns from its scorers), then each round times ``recommend(user, 10)`` for the
same users under every variant in turn, so a busy machine slows all of them alike. Prints the
fit time, the median per-recommendation latency over rounds and its ratio to the first variant.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from recsys.config import Settings
from recsys.data.readers import read_dataset
from recsys.evaluation.environment import describe_environment
from recsys.ranking import InteractionData, Ranker, create_ranker


def parse_variant(text: str) -> tuple[str, dict[str, str]]:
    name, _, spec = text.partition("=")
    params = dict(pair.split("=", 1) for pair in spec.split(",") if pair)
    return name, params


def per_recommendation_ms(ranker: Ranker, users: list[str]) -> float:
    started = time.perf_counter()
    for user in users:
        ranker.recommend(user, 10)
    return (time.perf_counter() - started) * 1000 / len(users)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="movielens")
    parser.add_argument("--path", type=Path, help="default: the RECSYS_DATASET_PATH setting")
    parser.add_argument("--model", default="two_stage")
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--variant", action="append", help="NAME=KEY=VALUE,...")
    args = parser.parse_args()
    variants = [
        parse_variant(v)
        for v in args.variant or ["default=", "both=trending_candidates=30,ensemble=5"]
    ]

    settings = Settings()
    data = read_dataset(args.dataset, args.path or settings.dataset_path, seed=42)
    matrix = InteractionData.from_frame(data.interactions, data.items["item_id"])
    rng = np.random.default_rng(0)
    users = [str(u) for u in rng.choice(matrix.user_ids, args.users, replace=False)]

    fitted, fit_seconds = {}, {}
    for name, params in variants:
        started = time.perf_counter()
        fitted[name] = create_ranker(args.model, params).fit(matrix)
        fit_seconds[name] = time.perf_counter() - started
    timings: dict[str, list[float]] = {name: [] for name, _ in variants}
    for _ in range(args.rounds):
        for name, ranker in fitted.items():
            timings[name].append(per_recommendation_ms(ranker, users))

    first = statistics.median(timings[variants[0][0]])
    table = Table(
        title=f"{args.model} on {args.dataset}: {args.users} users × {args.rounds} rounds, "
        "recommend(user, 10) in-process",
        caption=f"measured with {describe_environment()}",
    )
    for column in ("variant", "params", "fit s", "ms / recommendation (median)", "ratio"):
        table.add_column(column, justify="left" if column in ("variant", "params") else "right")
    for name, params in variants:
        median = statistics.median(timings[name])
        table.add_row(
            name,
            ",".join(f"{k}={v}" for k, v in params.items()) or "(defaults)",
            f"{fit_seconds[name]:.1f}",
            f"{median:.2f}",
            f"×{median / first:.2f}",
        )
    Console(width=140).print(table)


if __name__ == "__main__":
    main()
