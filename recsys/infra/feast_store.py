"""Feast store construction: registry + offline store on Postgres, online store on Redis.

`feature_repo/feature_store.yaml` reads every connection detail from ``RECSYS_FEAST_*`` environment
variables; :func:`feast_environment` computes them from the resolved endpoints so the CLI and a data
engineer's shell (`eval "$(recsys features env)"`) configure Feast the same way.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from recsys.config import Settings
from recsys.infra.endpoints import Endpoints

if TYPE_CHECKING:
    from feast import FeatureStore

# The SQL registry keeps its tables in their own schema, out of the app's way (created by Alembic).
REGISTRY_SCHEMA = "feast_registry"


def feast_environment(
    settings: Settings, endpoints: Endpoints, store_timeout: float | None = None
) -> dict[str, str]:
    registry_url = endpoints.sqlalchemy_url.update_query_dict(
        {"options": f"-csearch_path={REGISTRY_SCHEMA}"}
    ).render_as_string(hide_password=False)
    # Feast substitutes these into feature_store.yaml's text before parsing it, inside double
    # quotes: a quote or backslash in a password must be escaped for YAML to read it back.
    quoted = {
        "RECSYS_FEAST_REGISTRY_URL": registry_url,
        "RECSYS_FEAST_PG_HOST": endpoints.pg_host,
        "RECSYS_FEAST_PG_DATABASE": endpoints.pg_database,
        "RECSYS_FEAST_PG_USER": endpoints.pg_user,
        "RECSYS_FEAST_PG_PASSWORD": endpoints.pg_password,
        "RECSYS_FEAST_PG_SSLMODE": endpoints.pg_sslmode,
        "RECSYS_FEAST_REDIS": endpoints.feast_redis_connection_string
        + (
            f",socket_timeout={store_timeout},socket_connect_timeout={store_timeout}"
            if store_timeout
            else ""
        ),
    }
    return {
        "RECSYS_FEAST_PROJECT": settings.feast_project,
        "RECSYS_FEAST_PG_PORT": str(endpoints.pg_port),
        "RECSYS_FEAST_REDIS_TYPE": endpoints.feast_redis_type,
        **{name: _yaml_double_quoted(value) for name, value in quoted.items()},
    }


def _yaml_double_quoted(value: str) -> str:
    """``value`` escaped for the inside of a YAML double-quoted scalar."""
    return value.replace("\\", "\\\\").replace('"', '\\"')


def build_feature_store(
    settings: Settings, endpoints: Endpoints, store_timeout: float | None = None
) -> FeatureStore:
    """A FeatureStore on `feature_repo/`, configured for these endpoints. ``store_timeout``
    bounds every Redis call (the API's; batch jobs such as materialize keep none)."""
    os.environ.update(feast_environment(settings, endpoints, store_timeout))
    from feast import FeatureStore

    return FeatureStore(repo_path=str(settings.feature_repo))


def fail_fast_online_store(store: FeatureStore) -> None:
    """No retries on the online store's Redis client (redis-py 7 retries a refused connection
    three times with up to 10 s of backoff by default): the API answers degraded at once instead
    and asks again after ``store_retry_seconds``. Feast exposes no setting for it, so this reaches
    into its Redis online store; the client connects lazily, so Redis may be down now."""
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    online_store = store._get_provider().online_store
    get_client = getattr(online_store, "_get_client", None)
    if get_client is None:  # not the Redis online store: nothing to tune
        return
    get_client(store.config.online_store).set_retry(Retry(NoBackoff(), 0))
