"""Several API worker processes on one port, each with its own listening socket (SO_REUSEPORT).

``uvicorn --workers N`` shares one listening socket between the workers, and Linux tends to hand a
burst of new connections to whichever worker is awake: measured here, all 16 keep-alive clients of
a load test landed on one of two workers (97 % and 0 % CPU, 250 req/s instead of 450–500). With a
socket per worker the kernel spreads connections by a hash of their addresses instead.
Each worker is a :class:`~recsys.infra.api_server.DrainingServer`: its own lifespan, a drain
period and a graceful shutdown on SIGTERM.
"""

from __future__ import annotations

import multiprocessing
import signal
import socket
import sys
from types import FrameType


def _listening_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _run_worker(app: str, host: str, port: int, log_level: str, grace_seconds: float) -> None:
    from recsys.infra.api_server import run_api_server

    run_api_server(
        app, host, port, grace_seconds=grace_seconds, log_level=log_level,
        sock=_listening_socket(host, port),
    )  # fmt: skip


def serve_workers(
    app: str,
    host: str,
    port: int,
    workers: int,
    log_level: str = "info",
    grace_seconds: float = 0.0,
) -> None:
    """Run ``workers`` processes of the app factory ``app`` ("module:function") until SIGINT or
    SIGTERM, which is passed on to every worker (each drains for ``grace_seconds`` on SIGTERM,
    then shuts down gracefully: :mod:`recsys.infra.api_server`)."""
    if not hasattr(socket, "SO_REUSEPORT"):  # pragma: no cover - not on Linux
        raise RuntimeError("several workers need SO_REUSEPORT (Linux, macOS)")
    _listening_socket(host, port).close()  # fail here, once, if the port is taken
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(
            target=_run_worker, args=(app, host, port, log_level, grace_seconds), name=f"api-{i}"
        )
        for i in range(workers)
    ]
    for process in processes:
        process.start()

    def stop(signum: int, _frame: FrameType | None) -> None:
        for process in processes:
            if process.is_alive():
                # SIGTERM: drain, then uvicorn's graceful shutdown. On Ctrl-C the terminal has
                # already sent SIGINT to every worker, and a later signal stops without the wait.
                process.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for process in processes:
        process.join()
    # uvicorn re-raises the signal it shut down on, so a worker stopped by us ends "killed by
    # SIGTERM/SIGINT" after a clean shutdown: that is success; anything else is the worker's code.
    stopped = {0, -signal.SIGTERM, -signal.SIGINT}
    failed = [p.exitcode for p in processes if p.exitcode not in stopped]
    sys.exit(failed[0] if failed else 0)
