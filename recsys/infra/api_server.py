"""One API server process: uvicorn with a drain period on SIGTERM.

Kubernetes (and most load balancers) send SIGTERM and only then stop routing to the pod, as soon
as its readiness probe fails. Stopping at once would refuse the requests still on their way, so
on SIGTERM the server first marks itself draining (``/readyz`` answers 503 from that moment),
keeps answering for ``grace_seconds``, and then shuts down the way uvicorn does: no new
connections, in-flight requests finished, the app's lifespan closed (the serve-log queue drained
into Postgres). SIGINT (Ctrl-C) or a second SIGTERM stops without the wait.
"""

from __future__ import annotations

import signal
import socket
import threading
from types import FrameType

import uvicorn
from uvicorn.importer import import_from_string


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, draining: threading.Event, grace_seconds: float):
        super().__init__(config)
        self.draining = draining
        self.grace_seconds = grace_seconds

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        first = not self.draining.is_set()
        self.draining.set()
        if first and sig == signal.SIGTERM and self.grace_seconds > 0:
            timer = threading.Timer(self.grace_seconds, super().handle_exit, (sig, frame))
            timer.daemon = True
            timer.start()
            return
        super().handle_exit(sig, frame)


def run_api_server(
    factory: str,
    host: str,
    port: int,
    *,
    grace_seconds: float = 0.0,
    log_level: str = "info",
    sock: socket.socket | None = None,
) -> None:
    """Serve the app that ``factory`` ("module:function") builds until a signal stops it.

    The app's ``state.draining`` event, when it has one, is set when the drain begins."""
    app = import_from_string(factory)()
    draining = getattr(app.state, "draining", None) or threading.Event()
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=False)
    server = DrainingServer(config, draining, grace_seconds)
    server.run(sockets=[sock] if sock is not None else None)
