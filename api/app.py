"""`create_app(settings)`: everything (engine, Feast store, models, readers, serve log) is built in
the lifespan, nothing at import time."""

from __future__ import annotations

import gc
import json
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from api.observability import RequestObserver, configure_logging
from api.routes import events, health, models, monitoring, recommendations
from api.security import ApiKeys
from recsys import __version__
from recsys.config import Settings
from recsys.infra.database import create_db_engine
from recsys.infra.endpoints import connect_redis
from recsys.infra.feast_store import build_feature_store, fail_fast_online_store
from recsys.infra.services import resolve_endpoints
from recsys.ingest.redis_streams import event_stream
from recsys.serving.catalogue import Catalogue
from recsys.serving.feature_reader import OnlineFeatureReader
from recsys.serving.metrics import ServingMetrics
from recsys.serving.models import ActiveModelHolder
from recsys.serving.recent import DAY_SECONDS, RecentItems
from recsys.serving.recommender import RecommendationService
from recsys.serving.serve_log import ServeLogWriter

logger = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    app_settings = settings or Settings()
    if app_settings.log_json:
        configure_logging(app_settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        cfg = app_settings
        endpoints = resolve_endpoints(cfg)
        # Every database call of the API is bounded: a stuck Postgres fails a request (events
        # answer 503) instead of holding a worker.
        engine = create_db_engine(
            endpoints,
            connect_args={"connect_timeout": 3, "options": "-c statement_timeout=5000"},
        )
        store = build_feature_store(cfg, endpoints, store_timeout=cfg.store_timeout_seconds)
        fail_fast_online_store(store)
        state = app.state
        state.engine, state.store = engine, store
        state.metrics = ServingMetrics()
        state.api_keys = ApiKeys(cfg.api_keys)
        state.protect_reads = cfg.protect_reads
        state.redis = connect_redis(endpoints, cfg.store_timeout_seconds)  # for /readyz
        state.event_stream = (
            event_stream(cfg, endpoints, cfg.store_timeout_seconds)
            if cfg.event_ingestion == "stream"
            else None
        )
        state.serve_log = ServeLogWriter(
            engine, max_queue=cfg.serve_log_queue, on_drop=state.metrics.serve_log_dropped.inc
        )
        holder = ActiveModelHolder(engine, cfg.model_refresh_seconds)
        state.recent = RecentItems(
            state.redis,  # the online store's server, every call bounded by the store timeout
            cfg.feast_project,
            ttl_seconds=int(cfg.recent_items_days * DAY_SECONDS),
            retry_seconds=cfg.store_retry_seconds,
        )
        state.service = RecommendationService(
            holder,
            Catalogue.load(engine),
            lambda service, items: OnlineFeatureReader(
                store,
                service,
                items,
                refresh_seconds=cfg.feature_refresh_seconds,
                on_demand_cache_bytes=cfg.on_demand_cache_mb * 2**20,
            ),  # fmt: skip
            candidate_pool=cfg.candidate_pool,
            experiment=cfg.experiment,
            store_retry_seconds=cfg.store_retry_seconds,
            recent=state.recent,
            log_features_every=cfg.log_features_every,
        )
        model = holder.get()  # load the active model and its features before the first request
        if model is not None:
            try:
                state.service.reader(model)
            except Exception:
                logger.exception("online features not loaded at start: will retry per request")
        stop = threading.Event()

        def refresh() -> None:
            while not stop.wait(max(cfg.feature_refresh_seconds, 0.5)):
                state.service.refresh_features()

        refresher = threading.Thread(target=refresh, name="feature-refresh", daemon=True)
        refresher.start()
        # Everything built so far (Feast registry, models, snapshots) lives as long as the app:
        # keep it out of the cyclic collector's sweeps, which otherwise stall requests.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            state.draining.set()  # /readyz answers 503 from here on (if not already)
            stop.set()
            state.serve_log.close()  # everything queued reaches Postgres
            state.redis.close()
            engine.dispose()

    app = FastAPI(
        title="recsys",
        version=__version__,
        description="Recommendations from swappable rankers over Feast online features.",
        lifespan=lifespan,
        max_body_size=app_settings.max_body_bytes,  # larger bodies: 413, never read whole
    )

    # Set when a drain begins (SIGTERM: recsys.infra.api_server) or the app shuts down.
    app.state.draining = threading.Event()

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        # The error echoes the input; input that is not valid Unicode (a lone surrogate from a
        # JSON escape) cannot be written as UTF-8, so the body is ASCII JSON with escapes.
        errors = [_short_input(error) for error in exc.errors()]
        return AsciiJSONResponse({"detail": jsonable_encoder(errors)}, status_code=422)

    app.add_middleware(RequestObserver)  # outermost: every line of a request carries its id
    app.include_router(health.router)
    app.include_router(recommendations.router)
    app.include_router(events.router)
    app.include_router(models.router)
    app.include_router(monitoring.router)
    return app


#: Longer inputs are not echoed back in a 422: a 10,000-candidate list came back whole (1 MB).
MAX_ECHOED_CHARS = 200


def _short_input(error: dict[str, Any]) -> dict[str, Any]:
    """The error as pydantic gives it, with an input too long to be worth echoing summarised
    (its type and size); the field's name and the message say what is wrong."""
    value = error.get("input")
    if isinstance(value, str | bytes) and len(value) > MAX_ECHOED_CHARS:
        return error | {"input": f"{type(value).__name__} of {len(value)} characters"}
    if isinstance(value, list | dict) and len(repr(value)) > MAX_ECHOED_CHARS:
        return error | {"input": f"{type(value).__name__} of {len(value)} items"}
    return error


class AsciiJSONResponse(JSONResponse):
    def render(self, content: object) -> bytes:
        return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode("ascii")
