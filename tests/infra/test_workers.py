import subprocess
import sys
import time
from pathlib import Path

import httpx

from recsys.infra.embedded import _free_port

ROOT = Path(__file__).resolve().parents[2]


def test_workers_share_the_port_and_the_connections_then_stop_gracefully() -> None:
    port = _free_port()
    code = (
        "from recsys.infra.workers import serve_workers; "
        f"serve_workers('tests.infra.pid_app:create_app', '127.0.0.1', {port}, 2, 'warning')"
    )
    process = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
    try:
        deadline = time.monotonic() + 30
        pids: set[int] = set()
        while len(pids) < 2 and time.monotonic() < deadline:
            try:  # a new connection each time: the kernel picks a worker per connection
                pids.add(httpx.get(f"http://127.0.0.1:{port}/pid", timeout=2).json()["pid"])
            except httpx.HTTPError:
                time.sleep(0.1)
        assert len(pids) == 2, f"connections reached {len(pids)} worker(s)"
    finally:
        process.terminate()
        assert process.wait(timeout=30) == 0
