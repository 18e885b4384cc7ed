"""Where the time of one recommendation request goes, stage by stage, measured side by side.

Run after `recsys demo --no-serve` (or any trained setup); it uses the same settings as the CLI:

    .venv/bin/python benchmarks/request_path.py [--users 200] [--pool 200]

Prints median and p95 per stage over the same users in one run (the machine is shared: compare
stages within a run, not across runs).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from rich.console import Console
from rich.table import Table

from recsys.config import Settings
from recsys.infra.database import create_db_engine
from recsys.infra.feast_store import build_feature_store
from recsys.infra.services import resolve_endpoints
from recsys.serving.models import ActiveModelHolder
from recsys.serving.online_features import fetch_online_features
from recsys.serving.recommender import RecommendationService


def _timed(users: list[str], call: Callable[[str], object]) -> list[float]:
    samples = []
    for user in users:
        started = time.perf_counter()
        call(user)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--pool", type=int, default=200, help="candidates per request")
    args = parser.parse_args()

    settings = Settings()
    endpoints = resolve_endpoints(settings)
    engine = create_db_engine(endpoints)
    store = build_feature_store(settings, endpoints)
    service = RecommendationService(engine, store, ActiveModelHolder(engine), args.pool)
    model = service.models.get()
    if model is None:
        raise SystemExit("no active model: run `recsys demo --no-serve` first")
    users = [str(u) for u in model.ranker.user_ids_[: args.users]]
    candidates = {u: model.ranker.recommend(u, args.pool).item_ids.tolist() for u in users}
    for user in users[:5]:  # warm caches and connections
        service.recommend(user, 10)

    stages = {
        f"candidates: {model.algorithm} top-{args.pool}": lambda u: model.ranker.recommend(
            u, args.pool
        ),
        f"Feast get_online_features ({args.pool} rows)": lambda u: fetch_online_features(
            store, model.feature_service, u, candidates[u]
        ),
        "  the same, FeatureService looked up uncached (before)": lambda u: (
            store.get_online_features(
                features=store.get_feature_service(model.feature_service),
                entity_rows=[{"user_id": u, "item_id": i} for i in candidates[u]],
                full_feature_names=True,
            ).to_dict()
        ),
        f"score {args.pool} candidates": lambda u: model.ranker.score(u, candidates[u]),
        "whole request (service.recommend, k=10)": lambda u: service.recommend(u, 10),
    }
    results = {u: service.recommend(u, 10) for u in users}
    stages["serve-log insert (after the response)"] = lambda u: service.log(results[u])
    table = Table(
        title=f"request path, model v{model.version} ({model.algorithm}), {len(users)} users"
    )
    table.add_column("stage")
    table.add_column("p50 ms", justify="right")
    table.add_column("p95 ms", justify="right")
    for name, call in stages.items():
        samples = sorted(_timed(users, call))
        p95 = samples[min(len(samples) - 1, int(0.95 * len(samples)))]
        table.add_row(name, f"{statistics.median(samples):.2f}", f"{p95:.2f}")
    Console().print(table)


if __name__ == "__main__":
    main()
