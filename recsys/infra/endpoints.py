"""Where the servers are: one value object that every other part connects through."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy.engine import URL, make_url


@dataclass(frozen=True)
class Endpoints:
    """Connection details of the app database (PostgreSQL) and the online store (Redis)."""

    database_url: str  # SQLAlchemy URL, postgresql+psycopg://...
    redis_url: str  # redis://host:port/db (a cluster: any one node, db 0)
    redis_cluster: bool = False

    @property
    def sqlalchemy_url(self) -> URL:
        url = make_url(self.database_url)
        if url.drivername in ("postgresql", "postgres"):
            url = url.set(drivername="postgresql+psycopg")
        return url

    @property
    def pg_host(self) -> str:
        """TCP host, or the socket directory when the URL uses ``?host=/dir``."""
        url = self.sqlalchemy_url
        return str(url.query.get("host") or url.host or "127.0.0.1")

    @property
    def pg_port(self) -> int:
        url = self.sqlalchemy_url
        return int(url.query.get("port") or url.port or 5432)

    @property
    def pg_database(self) -> str:
        return str(self.sqlalchemy_url.database or "postgres")

    @property
    def pg_user(self) -> str:
        return str(self.sqlalchemy_url.username or "postgres")

    @property
    def pg_password(self) -> str:
        return str(self.sqlalchemy_url.password or "")

    def with_database(self, database: str) -> Endpoints:
        url = self.sqlalchemy_url.set(database=database)
        return Endpoints(
            url.render_as_string(hide_password=False), self.redis_url, self.redis_cluster
        )

    @property
    def redis_host(self) -> str:
        return urlsplit(self.redis_url).hostname or "127.0.0.1"

    @property
    def redis_port(self) -> int:
        return urlsplit(self.redis_url).port or 6379

    @property
    def redis_db(self) -> int:
        path = urlsplit(self.redis_url).path.strip("/")
        if path:
            return int(path)
        return int(parse_qs(urlsplit(self.redis_url).query).get("db", ["0"])[0])

    @property
    def feast_redis_type(self) -> str:
        return "redis_cluster" if self.redis_cluster else "redis"

    @property
    def pg_sslmode(self) -> str:
        """The URL's ``sslmode``, else libpq's default (``prefer``), as the app's own
        connections use it."""
        return str(self.sqlalchemy_url.query.get("sslmode") or "prefer")

    @property
    def feast_redis_connection_string(self) -> str:
        """Feast's own format: ``host:port,db=N[,ssl=true][,password=...]``, credentials
        decoded as redis-py decodes the URL; a cluster's startup node has no ``db`` (clusters
        have one database)."""
        parts = urlsplit(self.redis_url)
        text = f"{self.redis_host}:{self.redis_port}"
        if not self.redis_cluster:
            text += f",db={self.redis_db}"
        if parts.scheme == "rediss":
            text += ",ssl=true"
        for key, raw in (("password", parts.password), ("username", parts.username)):
            if not raw:
                continue
            value = unquote(raw)
            if "," in value:  # Feast splits its connection string on commas
                raise ValueError(
                    f"RECSYS_REDIS_URL: the Redis {key} contains ',', which Feast's connection "
                    "string cannot carry; choose one without a comma"
                )
            if _json_reads_otherwise(value):  # Feast json-decodes each value
                raise ValueError(
                    f"RECSYS_REDIS_URL: Feast would read the Redis {key} as a JSON value "
                    f"({value!r} is not a plain string to it, e.g. a number or null); choose "
                    "another"
                )
            text += f",{key}={value}"
        return text

    def describe(self) -> dict[str, str]:
        """Human-readable, password-free description for status output."""
        return {
            "database": self.sqlalchemy_url.render_as_string(hide_password=True),
            "redis": f"redis://{self.redis_host}:{self.redis_port}/{self.redis_db}"
            + (" (cluster)" if self.redis_cluster else ""),
        }


def _json_reads_otherwise(value: str) -> bool:
    """Whether ``json.loads`` turns ``value`` into something other than the string itself."""
    import json

    try:
        return json.loads(value) != value
    except json.JSONDecodeError:
        return False


def connect_postgres(endpoints: Endpoints, database: str | None = None):  # noqa: ANN201
    """A psycopg connection (autocommit) to the app database's server, as the app connects:
    its host or socket, credentials and ``sslmode``; ``database`` defaults to the app's."""
    import psycopg

    return psycopg.connect(
        host=endpoints.pg_host,
        port=endpoints.pg_port,
        user=endpoints.pg_user,
        password=endpoints.pg_password or None,
        dbname=database or endpoints.pg_database,
        sslmode=endpoints.pg_sslmode,
        autocommit=True,
    )


def connect_redis(endpoints: Endpoints, timeout: float | None = None):  # noqa: ANN201 - either client
    """A redis-py client for the online store's server: ``RedisCluster`` for a cluster (it finds
    every node from the one in the URL), ``Redis`` otherwise; passwords and TLS (``rediss://``)
    come from the URL. With ``timeout``, every call is bounded by it and never retried."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    options: dict[str, object] = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
    if timeout is not None:
        # A bounded client does not retry: redis-py's default retries turn a 0.25 s timeout
        # against a stalled server into 9 s (measured), which no request path can afford.
        options["retry"] = Retry(NoBackoff(), 0)
    if endpoints.redis_cluster:
        return redis.RedisCluster.from_url(endpoints.redis_url, **options)
    return redis.Redis.from_url(endpoints.redis_url, **options)
