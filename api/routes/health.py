from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from api.schemas import HealthResponse, ReadinessResponse

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthResponse)
def healthz() -> HealthResponse:
    """The process is up."""
    return HealthResponse(status="ok")


@router.get(
    "/readyz", response_model=ReadinessResponse, responses={503: {"model": ReadinessResponse}}
)
def readyz(request: Request) -> JSONResponse:
    """Ready while a model is loaded and the process is not draining for shutdown.

    Postgres and Redis are checked and reported, but an outage of either does not make the API
    unready: recommendations keep answering without them (degraded), and a shared store outage
    must not take every replica out of its load balancer at once."""
    state = request.app.state
    checks: dict[str, str] = {}
    try:
        with state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["postgres"] = "ok"
    except Exception as exc:
        checks["postgres"] = f"error: {type(exc).__name__} (events refused, answers go on)"
    try:
        state.redis.ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"error: {type(exc).__name__} (answers degraded)"
    model = state.service.current_model()
    checks["model"] = f"version {model.version} ({model.algorithm})" if model else "none active"
    if state.service.models.last_error:
        checks["model_load_error"] = state.service.models.last_error
    for version, error in sorted(state.service.models.version_errors().items()):
        checks[f"model_version_{version}"] = error  # asked for by number or by an experiment arm
    draining = state.draining.is_set()
    if draining:
        checks["shutdown"] = "draining"
    ready = model is not None and not draining
    body = ReadinessResponse(status="ready" if ready else "not ready", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


@router.get("/metrics", include_in_schema=True, response_class=Response)
def metrics(request: Request) -> Response:
    """Prometheus metrics: requests and latency per route and model, fallbacks, feature fetch."""
    registry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
