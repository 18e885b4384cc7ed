"""What `recsys train` costs with and without its holdout measurement, side by side.

    .venv/bin/python benchmarks/training.py [--dataset movielens] [--model als --model two_stage] \\
        [--holdout 0.1] [--rounds 3]

Loads the dataset into the configured app database (RECSYS_DATABASE_URL / RECSYS_REDIS_URL, or
the embedded servers; it replaces that database's data: point it at a scratch one), builds its
feature tables and applies the Feast definitions, then each round trains every model once
without the holdout and once with it, in turn, so a busy machine slows both alike. Versions are
registered inactive. Prints the median wall time of each, their ratio, and the holdout NDCG.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from recsys.config import Settings
from recsys.data.loader import load_dataset
from recsys.data.readers import read_dataset
from recsys.db.migrate import upgrade
from recsys.evaluation.environment import describe_environment
from recsys.features.build import build_feature_tables
from recsys.features.feast_ops import apply_definitions
from recsys.infra.database import create_db_engine
from recsys.infra.feast_store import build_feature_store
from recsys.infra.services import resolve_endpoints
from recsys.training.train import train_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="movielens")
    parser.add_argument("--path", type=Path, help="default: the RECSYS_DATASET_PATH setting")
    parser.add_argument("--model", action="append", help="repeatable; default: als, two_stage")
    parser.add_argument("--holdout", type=float, default=0.1)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not 0 < args.holdout < 1:
        parser.error("--holdout is the share measured on: between 0 and 1, exclusive")
    models = args.model or ["als", "two_stage"]

    settings = Settings()
    endpoints = resolve_endpoints(settings)
    engine = create_db_engine(endpoints)
    upgrade(engine)
    load_dataset(engine, read_dataset(args.dataset, args.path or settings.dataset_path))
    build_feature_tables(engine)
    apply_definitions(settings, endpoints)
    store = build_feature_store(settings, endpoints)

    seconds: dict[tuple[str, float], list[float]] = {}
    ndcg: dict[str, float] = {}
    for _ in range(args.rounds):
        for model in models:
            for holdout in (0.0, args.holdout):
                started = time.perf_counter()
                row = train_model(
                    settings, engine, store, model, activate=False, holdout=holdout,
                    endpoints=endpoints,
                )  # fmt: skip
                seconds.setdefault((model, holdout), []).append(time.perf_counter() - started)
                if holdout:
                    measured = row.metrics["holdout"]
                    ndcg[model] = measured.get(f"ndcg@{measured.get('k')}", float("nan"))

    table = Table(
        title=f"recsys train on {args.dataset}: {args.rounds} rounds, alternating",
        caption=f"measured with {describe_environment()}",
    )
    for column in ("model", "no holdout, s", f"holdout {args.holdout}, s", "ratio", "holdout NDCG"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for model in models:
        without = statistics.median(seconds[(model, 0.0)])
        with_holdout = statistics.median(seconds[(model, args.holdout)])
        table.add_row(
            model,
            f"{without:.1f}",
            f"{with_holdout:.1f}",
            f"×{with_holdout / without:.2f}",
            f"{ndcg[model]:.4f}",
        )
    Console(width=140).print(table)
    engine.dispose()


if __name__ == "__main__":
    main()
