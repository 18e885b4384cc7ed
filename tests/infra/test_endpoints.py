import pytest
from sqlalchemy.engine import URL

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


def test_credentials_and_tls_reach_feast_as_redis_py_reads_them() -> None:
    ep = Endpoints("postgresql://a@h/d", "rediss://default:p%40ss@cache:6380/2")
    assert ep.feast_redis_connection_string == (
        "cache:6380,db=2,ssl=true,password=p@ss,username=default"
    )
    comma = Endpoints("postgresql://a@h/d", "redis://:a%2Cb@cache:6379/0")
    with pytest.raises(ValueError, match="contains ','"):
        comma.feast_redis_connection_string  # noqa: B018
    for password in ("1e3", "null", "true", "%22abc%22"):  # Feast json-decodes each value
        odd = Endpoints("postgresql://a@h/d", f"redis://:{password}@cache:6379/0")
        with pytest.raises(ValueError, match="as a JSON value"):
            odd.feast_redis_connection_string  # noqa: B018


def test_feature_store_yaml_reads_every_password_and_sslmode_back(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Feast substitutes the environment into the YAML text: a quote or a backslash in a
    password broke the file or changed the password."""
    from feast.repo_config import load_repo_config

    from recsys.config import Settings
    from recsys.infra.feast_store import feast_environment

    tricky = 'p"x\\nb'
    url = URL.create(
        "postgresql+psycopg", username="u", password=tricky, host="db", database="shop",
        query={"sslmode": "require"},
    ).render_as_string(hide_password=False)  # fmt: skip
    ep = Endpoints(url, "redis://:r%22q%5Cz@cache:6379/1")
    settings = Settings(database_url=url, redis_url=ep.redis_url, _env_file=None)
    for name, value in feast_environment(settings, ep).items():
        monkeypatch.setenv(name, value)
    repo = settings.feature_repo
    config = load_repo_config(repo, repo / "feature_store.yaml")
    assert config.offline_store.password == tricky
    assert config.offline_store.sslmode == "require"
    assert config.online_store.connection_string == 'cache:6379,db=1,password=r"q\\z'
