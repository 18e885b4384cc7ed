"""Soak test: mixed traffic at a fixed rate for minutes, watching errors, latency and memory.

    .venv/bin/python benchmarks/load.py [--rate 200] [--seconds 600] [--url http://…]

Without ``--url`` it starts ``recsys serve --workers 2`` on the configured servers (like
``benchmarks/serving.py``; a trained, active model is needed). Traffic is open-loop: requests are
sent on a fixed schedule (``--rate`` per second) whatever the answers' speed, over up to 64
keep-alive connections: 70 % ``GET recommendations``, 20 % ``POST /v1/rank`` with 100 candidates,
10 % ``POST /v1/events`` (a click on an item just served). ``--ingestion stream`` runs the API
with ``RECSYS_EVENT_INGESTION=stream`` and a ``recsys worker features`` process beside it. It
prints, per kind and overall, the request count, 5xx, other errors, p50/p95/p99 (from send to full
answer), the achieved rate, the same per minute, and the server's resident memory (all worker
processes) after the first minute and at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from pathlib import Path

import numpy as np
import psutil
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
import serving as bench  # noqa: E402 - the serving benchmark's server start and free port

from recsys.config import Settings  # noqa: E402
from recsys.infra.services import resolve_endpoints  # noqa: E402
from recsys.ingest.redis_streams import event_stream  # noqa: E402


async def _request(pool: asyncio.Queue, host: str, port: int, method: str, url: str, body):  # noqa: ANN001, ANN202
    reader, writer = await pool.get()
    payload = b"" if body is None else json.dumps(body).encode()
    head = f"{method} {url} HTTP/1.1\r\nhost: {host}\r\n"
    if payload:
        head += f"content-type: application/json\r\ncontent-length: {len(payload)}\r\n"
    try:
        writer.write(head.encode() + b"\r\n" + payload)
        status = int((await reader.readline()).split()[1])
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        data = await reader.readexactly(length)
        await pool.put((reader, writer))
        return status, data
    except (OSError, asyncio.IncompleteReadError, IndexError, ValueError):
        writer.close()
        await pool.put(await asyncio.open_connection(host, port))
        return None, b""


async def soak(base: str, users: list[str], items: list[str], rate: float, seconds: float,
               server_pids: list[int]) -> dict:  # fmt: skip
    host, port = base.removeprefix("http://").split(":")
    port_n = int(port)
    pool: asyncio.Queue = asyncio.Queue()
    for _ in range(64):
        await pool.put(await asyncio.open_connection(host, port_n))
    rng = random.Random(0)
    stats: dict[str, list] = defaultdict(list)
    timeline: list[tuple[float, float]] = []  # (seconds since start when sent, latency ms)
    failures: dict[str, dict[str, int]] = defaultdict(lambda: {"5xx": 0, "other": 0})
    memory: list[tuple[float, float]] = []
    served: list[tuple[str, str, str]] = []  # (user, item, request_id) to click on

    async def one(kind: str) -> None:
        user = rng.choice(users)
        if kind == "recommend":
            method, url, body = "GET", f"/v1/users/{user}/recommendations?k=10", None
        elif kind == "rank":
            method, url = "POST", "/v1/rank"
            body = {"user_id": user, "candidates": rng.sample(items, 100), "k": 10}
        else:
            if not served:
                return
            user, item, request_id = served[rng.randrange(len(served))]
            method, url = "POST", "/v1/events"
            body = {"events": [{"event_id": str(uuid.uuid4()), "user_id": user, "item_id": item,
                                "event_type": "click", "request_id": request_id}]}  # fmt: skip
        started = time.perf_counter()
        status, data = await _request(pool, host, port_n, method, url, body)
        stats[kind].append((time.perf_counter() - started) * 1000)
        timeline.append((started - start, stats[kind][-1]))
        if status is None or (status >= 300 and status < 500):
            failures[kind]["other"] += 1
        elif status >= 500:
            failures[kind]["5xx"] += 1
        elif kind == "recommend" and len(served) < 5_000:
            answer = json.loads(data)
            if answer["items"]:
                served.append((user, answer["items"][0]["item_id"], answer["request_id"]))

    def rss_mb() -> float:
        return sum(psutil.Process(p).memory_info().rss for p in server_pids) / 2**20

    tasks = set()
    start = time.perf_counter()
    sent = 0
    next_memory = start + 60
    while (now := time.perf_counter()) - start < seconds:
        due = int((now - start) * rate)
        while sent < due:
            roll = rng.random()
            kind = "recommend" if roll < 0.7 else "rank" if roll < 0.9 else "event"
            task = asyncio.create_task(one(kind))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            sent += 1
        if server_pids and now >= next_memory:
            memory.append((now - start, rss_mb()))
            next_memory += 60
        await asyncio.sleep(0.001)
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    if server_pids:
        memory.append((elapsed, rss_mb()))
    return {
        "stats": stats, "failures": failures, "memory": memory, "elapsed": elapsed,
        "timeline": timeline,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url")
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument(
        "--ingestion", choices=("inline", "stream"), default="inline",
        help="stream: the API only stores events and announces them; a `recsys worker features` "
        "process (started here, on the same machine) pushes the features",
    )  # fmt: skip
    args = parser.parse_args()

    settings = Settings()
    model, items, users = bench.active_model_and_catalogue(settings)
    process, worker, base, pids = None, None, args.url, []
    if base is None:
        port = bench._free_port()
        process = bench._start_server(port, 200, env={"RECSYS_EVENT_INGESTION": args.ingestion})
        base = f"http://127.0.0.1:{port}"
        # the supervisor's children: the two workers (and multiprocessing's resource tracker)
        pids = [c.pid for c in psutil.Process(process.pid).children(recursive=True)]
        if args.ingestion == "stream":
            worker = subprocess.Popen(
                [str(Path(sys.executable).with_name("recsys")), "worker", "features",
                 "--consumer", "soak"],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            )  # fmt: skip
    try:
        result = asyncio.run(soak(base, users, items, args.rate, args.seconds, pids))
        if worker is not None:  # how far behind the feature updates are when the load stops
            stream = event_stream(settings, resolve_endpoints(settings))
            backlog = stream._redis.xinfo_groups(stream.stream)[0].get("lag", "?")
            pending = stream.pending()
    finally:
        if process is not None:
            process.terminate()
            process.wait(30)
        if worker is not None:
            worker.terminate()
            worker_output = worker.communicate(timeout=60)[0]

    total = sum(len(v) for v in result["stats"].values())
    table = Table(
        title=f"soak: {args.rate:.0f} req/s for {result['elapsed']:.0f} s, "
        f"{total / result['elapsed']:.0f} req/s achieved, "
        f"model v{model.version} ({model.algorithm})"
    )
    for column in ("kind", "requests", "5xx", "other errors", "p50 ms", "p95 ms", "p99 ms"):
        table.add_column(column, justify="left" if column == "kind" else "right")
    every = []
    for kind, latencies in sorted(result["stats"].items()):
        every += latencies
        p50, p95, p99 = np.percentile(latencies, [50, 95, 99])
        f = result["failures"][kind]
        table.add_row(kind, str(len(latencies)), str(f["5xx"]), str(f["other"]),
                      f"{p50:.1f}", f"{p95:.1f}", f"{p99:.1f}")  # fmt: skip
    p50, p95, p99 = np.percentile(every, [50, 95, 99])
    five = sum(f["5xx"] for f in result["failures"].values())
    other = sum(f["other"] for f in result["failures"].values())
    table.add_row("[bold]all[/]", str(total), str(five), str(other),
                  f"{p50:.1f}", f"{p95:.1f}", f"{p99:.1f}")  # fmt: skip
    console = Console(width=140)
    console.print(table)
    # Per minute: a slow drift (a cache filling, a table growing) shows here, not in the totals.
    minutes = Table(title="per minute of the run (by send time)")
    for column in ("minute", "requests", "p50 ms", "p99 ms", "server RSS MB at its end"):
        minutes.add_column(column, justify="right")
    sent = np.array([t for t, _ in result["timeline"]])
    latency = np.array([ms for _, ms in result["timeline"]])
    rss = dict((int(round(t / 60)), mb) for t, mb in result["memory"])
    for minute in range(int(np.ceil(result["elapsed"] / 60))):
        inside = latency[(sent >= minute * 60) & (sent < (minute + 1) * 60)]
        if inside.size:
            p50, p99 = np.percentile(inside, [50, 99])
            memory = rss.get(minute + 1)
            minutes.add_row(str(minute + 1), str(inside.size), f"{p50:.1f}", f"{p99:.1f}",
                            f"{memory:.0f}" if memory else "-")  # fmt: skip
    console.print(minutes)
    if len(result["memory"]) >= 2:
        first, last = result["memory"][0][1], result["memory"][-1][1]
        console.print(
            f"server resident memory (all workers): {first:.0f} MB at 1 min, {last:.0f} MB at "
            f"the end: {last / first - 1:+.1%}"
        )
    if worker is not None:
        console.print(
            f"event stream when the load stopped: {backlog} messages not yet read, {pending} "
            f"read and not yet acknowledged; worker: {worker_output.strip().splitlines()[-1]}"
        )


if __name__ == "__main__":
    main()
