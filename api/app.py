"""`create_app(settings)`: everything (engine, Feast store, model) is built in the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis
from fastapi import FastAPI

from api.routes import health, recommendations
from recsys import __version__
from recsys.config import Settings
from recsys.infra.database import create_db_engine
from recsys.infra.feast_store import build_feature_store
from recsys.infra.services import resolve_endpoints
from recsys.serving.models import ActiveModelHolder
from recsys.serving.recommender import RecommendationService


def create_app(settings: Settings | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        cfg = settings or Settings()
        endpoints = resolve_endpoints(cfg)
        engine = create_db_engine(endpoints)
        store = build_feature_store(cfg, endpoints)
        app.state.engine = engine
        app.state.redis = redis.Redis(
            host=endpoints.redis_host, port=endpoints.redis_port, db=endpoints.redis_db,
            socket_timeout=1.0, socket_connect_timeout=1.0,
        )  # fmt: skip
        models = ActiveModelHolder(engine, cfg.model_refresh_seconds)
        app.state.service = RecommendationService(engine, store, models, cfg.candidate_pool)
        models.get()  # load the active model before the first request
        try:
            yield
        finally:
            app.state.redis.close()
            engine.dispose()

    app = FastAPI(
        title="recsys",
        version=__version__,
        description="Recommendations from swappable rankers over Feast online features.",
        lifespan=lifespan,
    )
    app.include_router(health.router)
    app.include_router(recommendations.router)
    return app
