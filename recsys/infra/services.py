"""Resolve the servers once per command: configured URLs, or the embedded servers."""

from __future__ import annotations

from recsys.config import Settings
from recsys.infra.embedded import EmbeddedServers
from recsys.infra.endpoints import Endpoints


class ConfigurationError(ValueError):
    pass


def resolve_endpoints(settings: Settings) -> Endpoints:
    """Use RECSYS_DATABASE_URL + RECSYS_REDIS_URL when given; otherwise start embedded servers.

    From here on the code path is the same whichever servers answer.
    """
    if settings.database_url and settings.redis_url:
        return Endpoints(settings.database_url, settings.redis_url, settings.redis_cluster)
    if settings.database_url or settings.redis_url:
        missing = "RECSYS_REDIS_URL" if settings.database_url else "RECSYS_DATABASE_URL"
        raise ConfigurationError(
            f"{missing} is not set: set both RECSYS_DATABASE_URL and RECSYS_REDIS_URL to use "
            "your own servers, or neither to use the embedded ones"
        )
    return embedded_servers(settings).start()


def embedded_servers(settings: Settings) -> EmbeddedServers:
    return EmbeddedServers(settings.data_dir, settings.embedded_database)
