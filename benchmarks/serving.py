"""Serving latency, throughput and the online-feature speed-up, measured side by side in one run.

    .venv/bin/python benchmarks/serving.py [--url http://127.0.0.1:8000] [--seconds 10]

Without ``--url`` it starts the API itself (``recsys serve --workers 2`` on a free port, the same
settings as the CLI) and stops it afterwards. It needs a trained, active model (e.g. after
``recsys demo --no-serve``, or ``recsys train --model lightgbm``). It prints three tables:

1. one client, sequential: ``GET /v1/users/{id}/recommendations`` (the server's candidate pool)
   and ``POST /v1/rank`` with 100 and 1,000 candidates — p50/p95/p99 in ms;
2. 16, 32 and 64 concurrent keep-alive clients (a bare asyncio HTTP/1.1 client) on the 2
   workers: requests/s, p50/p99 and errors (any non-2xx or transport error);
3. online features for 1,000 candidates, in this process: stock ``get_online_features`` for the
   model's FeatureService against :class:`~recsys.serving.feature_reader.OnlineFeatureReader`
   for a user seen for the first time (on-demand features computed) and a returning user;
4. a request's read of the user's recent items (what their events since training were about,
   which the model must not recommend again): p50/p95/p99 and its share of a request's p50.

The client runs on the same 2 cores as the server: the figures include its cost.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
from rich.console import Console
from rich.table import Table

from recsys.config import Settings
from recsys.infra.database import create_db_engine
from recsys.infra.endpoints import connect_redis
from recsys.infra.feast_store import build_feature_store
from recsys.infra.services import resolve_endpoints
from recsys.serving.catalogue import Catalogue
from recsys.serving.feature_reader import OnlineFeatureReader
from recsys.serving.models import ActiveModelHolder
from recsys.serving.online_features import fetch_online_features
from recsys.serving.recent import RecentItems


def active_model_and_catalogue(settings: Settings) -> tuple:
    """(the active model, every catalogue item id, the model's user ids): what the benchmarks'
    requests are made of."""
    engine = create_db_engine(resolve_endpoints(settings))
    model = ActiveModelHolder(engine).get()
    if model is None:
        raise SystemExit("no active model: run `recsys demo --no-serve` or `recsys train` first")
    items = Catalogue.load(engine).item_ids.tolist()
    engine.dispose()
    return model, items, [str(u) for u in model.ranker.user_ids_]


def _percentiles(samples_ms: list[float]) -> tuple[float, float, float]:
    p = np.percentile(samples_ms, [50, 95, 99])
    return float(p[0]), float(p[1]), float(p[2])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server(
    port: int, pool: int, workers: int = 2, env: dict[str, str] | None = None
) -> subprocess.Popen:
    env = {**os.environ, "RECSYS_CANDIDATE_POOL": str(pool), **(env or {})}
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "recsys"), "serve", "--workers", str(workers),
         "--host", "127.0.0.1", "--port", str(port)],
        # its JSON request log is written as in production (its cost is measured) but not shown
        env=env, cwd=Path(__file__).resolve().parents[1],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            raise SystemExit("the API exited while starting: is a model trained and active?")
        time.sleep(0.5)
    process.terminate()
    raise SystemExit("the API did not become ready within 180 s")


def _sequential(client: httpx.Client, calls: list, repeat: int) -> list[float]:
    samples = []
    for i in range(repeat):
        method, url, body = calls[i % len(calls)]
        started = time.perf_counter()
        response = client.request(method, url, json=body)
        samples.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return samples


async def _load(base: str, calls: list, clients: int, seconds: float) -> tuple[int, int, list]:
    """``clients`` keep-alive connections, each sending its next request as soon as the last
    answer is in. A bare asyncio HTTP/1.1 client: httpx's own CPU per request would compete with
    the server for the same 2 cores and cap what is measured."""
    host, port = base.removeprefix("http://").split(":")
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds

    async def worker(offset: int) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, int(port))
        i = offset
        while time.perf_counter() < stop_at:
            method, url, body = calls[i % len(calls)]
            i += clients
            payload = b"" if body is None else json.dumps(body).encode()
            head = f"{method} {url} HTTP/1.1\r\nhost: {host}\r\n"
            if payload:
                head += f"content-type: application/json\r\ncontent-length: {len(payload)}\r\n"
            started = time.perf_counter()
            try:
                writer.write(head.encode() + b"\r\n" + payload)
                status_line = await reader.readline()
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.decode().partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                await reader.readexactly(length)
                if not status_line.split()[1].startswith(b"2"):
                    errors += 1
            except (OSError, asyncio.IncompleteReadError, IndexError):
                errors += 1
                writer.close()
                reader, writer = await asyncio.open_connection(host, int(port))
            latencies.append((time.perf_counter() - started) * 1000)
        writer.close()

    await asyncio.gather(*(worker(i) for i in range(clients)))
    return len(latencies), errors, latencies


def _feature_ratio(settings: Settings, n: int, repeats: int) -> list[tuple[str, float]]:
    endpoints = resolve_endpoints(settings)
    engine = create_db_engine(endpoints)
    store = build_feature_store(settings, endpoints)
    model = ActiveModelHolder(engine).get()
    assert model is not None
    items = Catalogue.load(engine).item_ids.tolist()
    reader = OnlineFeatureReader(store, model.feature_service, items)
    rng = np.random.default_rng(0)
    users = [str(u) for u in model.ranker.user_ids_]
    stock, first, returning = [], [], []
    for r in range(repeats):
        candidates = rng.choice(items, min(n, len(items)), replace=False).tolist()
        user = users[r % len(users)]
        started = time.perf_counter()
        fetch_online_features(store, model.feature_service, user, candidates)
        stock.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        reader.fetch(user, candidates)  # first time this user is seen by this reader
        first.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        reader.fetch(user, candidates[::-1])
        returning.append((time.perf_counter() - started) * 1000)
    engine.dispose()
    return [
        (f"stock Feast get_online_features ({model.feature_service})", statistics.median(stock)),
        ("fast reader, user's first request", statistics.median(first)),
        ("fast reader, returning user", statistics.median(returning)),
    ]


def _recent_reads(settings: Settings, repeats: int) -> list[float]:
    """Milliseconds of a request's read of the user's recent items (one Redis SMEMBERS, as the
    API makes it), over the model's users, each with a few recorded items."""
    endpoints = resolve_endpoints(settings)
    engine = create_db_engine(endpoints)
    model = ActiveModelHolder(engine).get()
    assert model is not None
    engine.dispose()
    client = connect_redis(endpoints, settings.store_timeout_seconds)
    recent = RecentItems(client, f"{settings.feast_project}_benchmark", ttl_seconds=600)
    users = [str(u) for u in model.ranker.user_ids_][:repeats]
    items = [str(i) for i in model.ranker.item_ids_[:5]]
    recent.record((u, i) for u in users for i in items)
    samples = []
    for r in range(repeats):
        started = time.perf_counter()
        recent.items(users[r % len(users)])
        samples.append((time.perf_counter() - started) * 1000)
    client.delete(*[recent.key(u) for u in users])
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running API (default: start one with 2 workers)")
    parser.add_argument("--pool", type=int, default=200, help="server candidate pool")
    parser.add_argument("--requests", type=int, default=400, help="sequential requests per row")
    parser.add_argument("--seconds", type=float, default=10.0, help="per concurrency level")
    args = parser.parse_args()

    settings = Settings()
    model, items, users = active_model_and_catalogue(settings)
    random.Random(0).shuffle(users)

    process = None
    base = args.url
    if base is None:
        port = _free_port()
        process = _start_server(port, args.pool)
        base = f"http://127.0.0.1:{port}"
    console = Console(width=160)
    try:
        rng = random.Random(1)

        def rank_calls(n: int) -> list:
            return [
                ("POST", "/v1/rank",
                 {"user_id": u, "candidates": rng.sample(items, min(n, len(items))), "k": 10})
                for u in users[:100]
            ]  # fmt: skip

        recommend_calls = [("GET", f"/v1/users/{u}/recommendations?k=10", None) for u in users]
        rows = [
            (f"GET recommendations (pool {args.pool}, k=10)", recommend_calls),
            ("POST rank, 100 candidates", rank_calls(100)),
            ("POST rank, 1,000 candidates", rank_calls(1000)),
        ]
        table = Table(
            title=f"one client, {args.requests} sequential requests per row: model "
            f"v{model.version} ({model.algorithm}), {len(items)} items"
        )
        for column in ("request", "p50 ms", "p95 ms", "p99 ms"):
            table.add_column(column, justify="left" if column == "request" else "right")
        with httpx.Client(base_url=base, timeout=10) as client:
            for _, calls in rows:  # warm every worker and cache once
                _sequential(client, calls, min(len(calls), 50))
            request_p50 = {}
            for label, calls in rows:
                p50, p95, p99 = _percentiles(_sequential(client, calls, args.requests))
                table.add_row(label, f"{p50:.1f}", f"{p95:.1f}", f"{p99:.1f}")
                request_p50[label] = p50
        console.print(table)

        load = Table(
            title=f"concurrent clients, GET recommendations (pool {args.pool}), "
            f"{args.seconds:.0f} s each, 2 uvicorn workers"
        )
        for column in ("clients", "requests", "req/s", "p50 ms", "p99 ms", "errors"):
            load.add_column(column, justify="right")
        # every user once through both workers first: a user's first request computes their
        # on-demand features, later ones reuse them (the tables say which case they measure)
        asyncio.run(_load(base, recommend_calls, 16, max(3.0, args.seconds / 2)))
        for clients in (16, 32, 64):
            done, errors, latencies = asyncio.run(
                _load(base, recommend_calls, clients, args.seconds)
            )
            p50, _, p99 = _percentiles(latencies)
            load.add_row(
                str(clients), str(done), f"{done / args.seconds:.0f}", f"{p50:.1f}",
                f"{p99:.1f}", str(errors),
            )  # fmt: skip
        console.print(load)
    finally:
        if process is not None:
            process.terminate()
            process.wait(30)

    features = Table(title="online features for 1,000 candidates, one process, medians of 30")
    for column in ("read", "median ms", "× faster than stock"):
        features.add_column(column, justify="left" if column == "read" else "right")
    measured = _feature_ratio(settings, 1000, 30)
    stock_ms = measured[0][1]
    for label, ms in measured:
        features.add_row(label, f"{ms:.2f}", f"{stock_ms / ms:.1f}")
    console.print(features)

    recent = Table(
        title=f"the request's read of the user's recent items (Redis), one process, "
        f"{args.requests} users in turn"
    )
    for column in ("read", "p50 ms", "p95 ms", "p99 ms", "share of GET recommendations p50"):
        recent.add_column(column, justify="left" if column == "read" else "right")
    p50, p95, p99 = _percentiles(_recent_reads(settings, args.requests))
    get_p50 = request_p50[rows[0][0]]
    recent.add_row(
        "items of the user's recent events", f"{p50:.2f}", f"{p95:.2f}", f"{p99:.2f}",
        f"{p50 / get_p50:.0%} of {get_p50:.1f} ms",
    )  # fmt: skip
    console.print(recent)


if __name__ == "__main__":
    main()
