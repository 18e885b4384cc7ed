"""The zero-configuration path: real PostgreSQL and Redis started from pip wheels."""

from pathlib import Path

import psycopg
import pytest
import redis

from recsys.infra.embedded import EmbeddedServers

pytestmark = pytest.mark.integration


def test_embedded_servers_start_are_reused_and_stop(tmp_path: Path) -> None:
    servers = EmbeddedServers(tmp_path, database="recsys")
    try:
        endpoints = servers.start()
        with psycopg.connect(
            host=endpoints.pg_host, port=endpoints.pg_port, user="postgres", dbname="recsys"
        ) as conn:
            assert (
                conn.execute("SELECT current_setting('server_version_num')::int").fetchone()[0]
                >= 180000
            )
        client = redis.Redis(host=endpoints.redis_host, port=endpoints.redis_port)
        client.set("k", "v")
        assert client.get("k") == b"v"

        again = servers.start()  # a second command finds them running
        assert again == endpoints
        assert [s.running for s in servers.status()] == [True, True]
    finally:
        stopped = servers.stop()
    assert sorted(stopped) == ["postgres", "redis"]
    assert [s.running for s in servers.status()] == [False, False]
    with pytest.raises(redis.ConnectionError):
        redis.Redis(host=endpoints.redis_host, port=endpoints.redis_port).ping()
