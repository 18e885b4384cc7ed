from recsys.infra.endpoints import Endpoints


def test_tcp_urls() -> None:
    ep = Endpoints("postgresql://alice:s3cret@db.internal:5433/shop", "redis://cache:6380/2")
    assert ep.sqlalchemy_url.drivername == "postgresql+psycopg"
    assert (ep.pg_host, ep.pg_port, ep.pg_database, ep.pg_user, ep.pg_password) == (
        "db.internal", 5433, "shop", "alice", "s3cret",
    )  # fmt: skip
    assert ep.feast_redis_connection_string == "cache:6380,db=2"
    assert "s3cret" not in str(ep.describe())


def test_unix_socket_url_of_the_embedded_server() -> None:
    ep = Endpoints(
        "postgresql+psycopg://postgres@/recsys?host=/tmp/pg&port=5432", "redis://127.0.0.1:7000/0"
    )
    assert (ep.pg_host, ep.pg_port, ep.pg_database) == ("/tmp/pg", 5432, "recsys")
    moved = ep.with_database("other")
    assert moved.pg_database == "other" and moved.pg_host == "/tmp/pg"
