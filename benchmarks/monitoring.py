"""How long the weekly report takes for a busy week: a seeded, generated week of served lists.

    .venv/bin/python benchmarks/monitoring.py [--requests 100000] [--k 10] [--drift 0.3]

Creates a scratch database on the configured (or embedded) PostgreSQL, migrates it, and fills it:
a 10,000-item catalogue with 200,000 training interactions, a model row with a drift reference,
``--requests`` served lists of ``--k`` items in one ISO week (100,000 × 10 = 1M served rows; the
feature vectors of one request in ten logged, as the API does by default) and a click on 5 % of
them. Then it builds the week's report and prints the time per stage and the size of its files.
The database is dropped afterwards. ``--drift 0.3`` shifts the served week's features, so columns
drift and the drift noise test (a permutation test per drifted column) runs in full: its worst
case.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's directory comes first on sys.path and its name would shadow the
# `monitoring` package it measures.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import io
import json
import tempfile
import time
import uuid
from datetime import timedelta

import numpy as np
import pandas as pd
import psycopg
from rich.console import Console
from rich.table import Table

from monitoring.weekly import Week, build_weekly_report
from recsys.config import Settings
from recsys.db.migrate import upgrade
from recsys.infra.database import create_db_engine
from recsys.infra.services import resolve_endpoints

ITEMS, USERS, INTERACTIONS = 10_000, 20_000, 200_000
GENRES = ["Action", "Comedy", "Drama", "Horror", "Romance", "Sci-Fi"]


def _copy(conn: psycopg.Connection, table: str, columns: list[str], frame: pd.DataFrame) -> None:
    with (
        conn.cursor() as cur,
        cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT csv)") as copy,
    ):
        buffer = io.StringIO()
        frame[columns].to_csv(buffer, header=False, index=False)
        copy.write(buffer.getvalue())


def _features(
    rng: np.random.Generator, n: int, shift: float = 0.0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    genre_shares = np.array([6.0, 5, 4, 3, 2, 1]) + shift * 10 * np.array([-1, 0, 0, 0, 0, 1])
    users = pd.DataFrame(
        {"user_stats__interaction_count": rng.poisson(40, n),
         "user_stats__mean_rating": rng.normal(3.6 + shift, 0.4, n).round(3)}
    )  # fmt: skip
    items = pd.DataFrame(
        {"item_stats__interaction_count": rng.poisson(25, n),
         "item_stats__mean_rating": rng.normal(3.4 + shift, 0.5, n).round(3),
         "item_stats__genres": rng.choice(GENRES, n, p=genre_shares / genre_shares.sum())
                                if shift else rng.choice(GENRES, n)}
    )  # fmt: skip
    return users, items


def seed(
    settings: Settings, database_url: str, requests: int, k: int, week: Week, shift: float = 0.0
) -> None:
    rng = np.random.default_rng(0)
    conninfo = database_url.replace("postgresql+psycopg://", "postgresql://")
    reference_dir = Path(tempfile.mkdtemp())
    with psycopg.connect(conninfo) as conn:
        items = pd.DataFrame({"item_id": np.arange(ITEMS).astype(str), "title": "",
                              "genres": "{Drama}", "attributes": "{}"})  # fmt: skip
        _copy(conn, "items", ["item_id", "title", "genres", "attributes"], items)
        users = pd.DataFrame({"user_id": np.arange(USERS).astype(str), "attributes": "{}"})
        _copy(conn, "users", ["user_id", "attributes"], users)
        popularity = rng.zipf(1.3, INTERACTIONS) % ITEMS
        interactions = pd.DataFrame(
            {"user_id": rng.integers(0, USERS, INTERACTIONS).astype(str),
             "item_id": popularity.astype(str), "rating": 4.0,
             "occurred_at": (week.start - timedelta(days=30)).isoformat()}
        )  # fmt: skip
        _copy(conn, "interactions", ["user_id", "item_id", "rating", "occurred_at"], interactions)

        # the model and its drift reference: 300 users' top-k with features
        n_ref = 300 * k
        ref_users, ref_items = _features(rng, n_ref)
        reference = pd.concat([ref_users, ref_items], axis=1).assign(
            user_id=np.repeat(np.arange(300).astype(str), k),
            item_id=rng.integers(0, ITEMS, n_ref).astype(str),
            rank=np.tile(np.arange(1, k + 1), 300),
            score=rng.normal(1.0, 0.3, n_ref),
        )
        reference.to_parquet(reference_dir / "reference.parquet", index=False)
        conn.execute(
            "INSERT INTO models (version, algorithm, params, feature_service, n_interactions, "
            "metrics, artifact_path, artifact_sha256, reference_path, is_active) VALUES "
            "(1, 'als', '{}', 'als_v1', %s, '{}', '-', '-', %s, true)",
            (INTERACTIONS, str(reference_dir / "reference.parquet")),
        )

        # the week: requests spread over seven days, one in ten with its features logged
        ids = [str(uuid.uuid4()) for _ in range(requests)]
        seconds = rng.integers(0, 7 * 86_400, requests)
        served_at = [(week.start + timedelta(seconds=int(s))).isoformat() for s in seconds]
        lists = rng.zipf(1.3, (requests, k)) % ITEMS
        scores = np.sort(rng.normal(1.0, 0.3, (requests, k)), axis=1)[:, ::-1]
        features = []
        for i in range(requests):
            if i % 10:
                features.append("{}")
                continue
            user, item = _features(rng, k, shift)
            features.append(json.dumps({"user": user.iloc[0].to_dict(),
                                        "items": item.to_dict(orient="records")},
                                       default=int))  # fmt: skip
        served = pd.DataFrame(
            {"request_id": ids, "served_at": served_at,
             "user_id": rng.integers(0, USERS, requests).astype(str), "model_version": 1,
             "algorithm": "als", "fallback": False, "k": k,
             "items": ["{" + ",".join(map(str, row)) + "}" for row in lists],
             "scores": ["{" + ",".join(f"{v:.4f}" for v in row) + "}" for row in scores],
             "features": features, "latency_ms": 5.0}
        )  # fmt: skip
        columns = ["request_id", "served_at", "user_id", "model_version", "algorithm",
                   "fallback", "k", "items", "scores", "features", "latency_ms"]  # fmt: skip
        _copy(conn, "served_requests", columns, served)

        clicked = rng.choice(requests, requests // 20, replace=False)
        events = pd.DataFrame(
            {"event_id": [str(uuid.uuid4()) for _ in clicked],
             "user_id": served["user_id"].to_numpy()[clicked],
             "item_id": [str(lists[i, rng.integers(0, k)]) for i in clicked],
             "event_type": "click", "occurred_at": served_at[0],
             "request_id": [ids[i] for i in clicked]}
        )  # fmt: skip
        _copy(conn, "events", list(events.columns), events)
        conn.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument(
        "--drift",
        type=float,
        default=0.0,
        help="shift the served week's mean ratings by this much and its genres with them, so "
        "columns drift and the noise test runs in full (e.g. 0.3)",
    )
    args = parser.parse_args()

    settings = Settings()
    endpoints = resolve_endpoints(settings)
    name = f"recsys_monitor_bench_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(
        host=endpoints.pg_host, port=endpoints.pg_port, user=endpoints.pg_user,
        password=endpoints.pg_password or None, dbname=endpoints.pg_database, autocommit=True,
    )  # fmt: skip
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        bench = endpoints.with_database(name)
        engine = create_db_engine(bench)
        upgrade(engine)
        week = Week.parse("2026-W47")
        started = time.perf_counter()
        seed(settings, bench.database_url, args.requests, args.k, week, args.drift)
        seeded = time.perf_counter() - started
        timings: dict[str, float] = {}
        with tempfile.TemporaryDirectory() as reports:
            report_settings = settings.model_copy(update={"data_dir": Path(reports)})
            started = time.perf_counter()
            report = build_weekly_report(report_settings, engine, week, timings)
            total = time.perf_counter() - started
            folder = Path(report.html_path).parent
            page_mb = Path(report.html_path).stat().st_size / 1e6
            folder_mb = sum(f.stat().st_size for f in folder.iterdir()) / 1e6
        engine.dispose()
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()

    table = Table(
        title=f"weekly report, {args.requests:,} requests × {args.k} = "
        f"{args.requests * args.k:,} served rows ({week.name}; seeding took {seeded:.0f} s)"
    )
    table.add_column("stage")
    table.add_column("seconds", justify="right")
    for stage, seconds in timings.items():
        table.add_row(stage, f"{seconds:.1f}")
    table.add_row("[bold]total[/]", f"[bold]{total:.1f}[/]")
    Console(width=140).print(table)
    print(
        f"requests {report.requests:,}, positive feedback {report.feedback_events:,}, "
        f"NDCG@{args.k} {report.quality['ndcg']:.4f}, drift share {report.drift_share}\n"
        f"report.html {page_mb:.1f} MB; the week's folder {folder_mb:.1f} MB"
    )


if __name__ == "__main__":
    main()
