"""Sizing figures, measured: Redis memory per user and per item, API CPU and memory per request.

    .venv/bin/python benchmarks/sizing.py [--seconds 20] [--clients 8]

Needs the configured stack with a trained, active model (as ``benchmarks/serving.py``).

1. **Redis.** Starts its own empty ``redis-server`` on a spare port, has Feast materialise the
   configured project's features into it, and reads ``used_memory`` before and after plus
   ``MEMORY USAGE`` of every key, split by what the key holds (a user's views or an item's). The
   per-entity bytes are each class's share of the measured growth, so they include Redis's own
   per-key overhead.
2. **API.** Starts ``recsys serve`` with ONE worker and keeps ``--clients`` keep-alive clients
   busy for ``--seconds`` per request kind (recommendations, rank, events; the events are new
   clicks written to the configured database); CPU seconds of the server process (user +
   system, from /proc via psutil) divided by the requests answered give CPU ms per request,
   which depends less than latency on how busy the rest of the machine is. Resident memory of the
   worker is read at the end.

It prints both tables and the derived sizes for 1 and 10 million users and items (extrapolated
linearly from the measured per-entity bytes; the user's taste string grows with the genres the
user touched, so the user figure is for this dataset's mix).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import random
import sys
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psutil
import redis
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
import serving as bench  # noqa: E402 - the serving benchmark's server start, port and client

from recsys.config import Settings  # noqa: E402
from recsys.infra.embedded import EmbeddedRedis  # noqa: E402
from recsys.infra.feast_store import build_feature_store  # noqa: E402
from recsys.infra.services import resolve_endpoints  # noqa: E402

TARGET_CPU_UTILISATION = 0.6  # headroom for bursts and the p99, as the HPA target


def redis_memory(settings: Settings) -> dict:
    with tempfile.TemporaryDirectory() as directory:
        server = EmbeddedRedis(Path(directory))  # the embedded servers' redis-server, empty
        url = server.start()
        client = redis.Redis.from_url(url)
        try:
            empty = client.info("memory")["used_memory"]
            own = settings.model_copy(update={"redis_url": url})
            store = build_feature_store(own, resolve_endpoints(own))
            quiet = io.StringIO()
            with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
                store.materialize(datetime(2000, 1, 1, tzinfo=UTC), datetime.now(UTC))
            loaded = client.info("memory")["used_memory"]
            counts = {"user": 0, "item": 0}
            usage = {"user": 0, "item": 0}
            for key in client.scan_iter(count=1000):
                views = [f for f in client.hkeys(key) if f.startswith(b"_ts:")]
                kind = "user" if any(b"user" in v for v in views) else "item"
                counts[kind] += 1
                usage[kind] += client.memory_usage(key) or 0
        finally:
            server.stop()
    growth = loaded - empty
    total_usage = sum(usage.values())
    return {
        kind: {
            "entities": counts[kind],
            "memory_usage_bytes": usage[kind] / max(1, counts[kind]),
            # each class's share of what Redis really grew by (allocator and table overhead)
            "bytes": growth * usage[kind] / total_usage / max(1, counts[kind]),
        }
        for kind in counts
    } | {"growth": growth}


def api_cost(settings: Settings, seconds: float, clients: int) -> tuple:
    model, items, users = bench.active_model_and_catalogue(settings)
    rng = random.Random(0)
    kinds = {
        f"GET recommendations (pool {settings.candidate_pool})": [
            ("GET", f"/v1/users/{u}/recommendations?k=10", None) for u in users
        ],
        "POST rank, 100 candidates": [
            ("POST", "/v1/rank", {"user_id": u, "candidates": rng.sample(items, 100), "k": 10})
            for u in users[:200]
        ],
        # a new event each time (a repeated event_id would be a cheap duplicate): the store, the
        # SQL recomputation of the user's features and the push, all on the request path
        "POST events, 1 click (inline ingestion)": [
            (
                "POST",
                "/v1/events",
                {
                    "events": [
                        {
                            "event_id": f"sizing-{uuid.uuid4()}",
                            "user_id": rng.choice(users),
                            "item_id": rng.choice(items),
                            "event_type": "click",
                        }
                    ]
                },
            )
            for _ in range(50_000)
        ],  # fmt: skip
    }
    port = bench._free_port()
    server = bench._start_server(port, settings.candidate_pool, workers=1)
    base = f"http://127.0.0.1:{port}"
    rows = []
    try:
        process = psutil.Process(server.pid)
        for name, calls in kinds.items():
            asyncio.run(bench._load(base, calls, clients, 2))  # warm up
            cpu = process.cpu_times()
            done, errors, _ = asyncio.run(bench._load(base, calls, clients, seconds))
            after = process.cpu_times()
            used = (after.user + after.system) - (cpu.user + cpu.system)
            rows.append((name, done, errors, used * 1000 / max(1, done), done / seconds))
        rss = process.memory_info().rss / 2**20
    finally:
        server.terminate()
        server.wait(30)
    return rows, rss, model, len(items), len(users)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    settings = Settings()
    console = Console(width=160)

    memory = redis_memory(settings)
    table = Table(title=f"Redis: Feast materialised into an empty server, used_memory grew "
                  f"{memory['growth'] / 2**20:.2f} MiB")  # fmt: skip
    for column in ("entity", "keys", "MEMORY USAGE B/key", "B/entity (share of growth)",
                   "MiB per 1M", "MiB per 10M"):  # fmt: skip
        table.add_column(column, justify="left" if column == "entity" else "right")
    for kind in ("user", "item"):
        m = memory[kind]
        table.add_row(kind, f"{m['entities']:,}", f"{m['memory_usage_bytes']:.0f}",
                      f"{m['bytes']:.0f}", f"{m['bytes'] * 1e6 / 2**20:,.0f}",
                      f"{m['bytes'] * 1e7 / 2**20:,.0f}")  # fmt: skip
    console.print(table)

    rows, rss, model, n_items, n_users = api_cost(settings, args.seconds, args.clients)
    table = Table(title=f"API, one worker, {args.clients} clients x {args.seconds:.0f} s per row: "
                  f"model v{model.version} ({model.algorithm}), {n_items:,} items, "
                  f"{n_users:,} users; worker RSS {rss:.0f} MiB")  # fmt: skip
    for column in ("request", "answered", "errors", "req/s (1 worker)", "CPU ms/request",
                   f"cores per 1,000 req/s at {TARGET_CPU_UTILISATION:.0%}"):  # fmt: skip
        table.add_column(column, justify="left" if column == "request" else "right")
    for name, done, errors, cpu_ms, rate in rows:
        table.add_row(name, f"{done:,}", str(errors), f"{rate:.0f}", f"{cpu_ms:.2f}",
                      f"{cpu_ms / TARGET_CPU_UTILISATION:.1f}")  # fmt: skip
    console.print(table)


if __name__ == "__main__":
    main()
