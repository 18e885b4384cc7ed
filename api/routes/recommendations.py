from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError

from api.deps import ReadKey, ServiceDep
from api.schemas import (
    MAX_CANDIDATES,
    MAX_ID,
    MODEL_OR_ALGORITHM,
    Explanation,
    Identifier,
    RankerName,
    RankRequestBody,
    RecommendationsResponse,
    RecommendedItem,
    SimilarItemsResponse,
    Text,
)
from api.utf8 import require_utf8
from recsys.serving.models import (
    ModelLoadError,
    RegistryUnavailableError,
    UnknownModelError,
)
from recsys.serving.recommender import (
    NoModelError,
    RankRequest,
    RecommendationResult,
    serve_log_row,
)

router = APIRouter(
    prefix="/v1", tags=["recommendations"], dependencies=[ReadKey, Depends(require_utf8)]
)


def _answer(
    request: Request,
    service: ServiceDep,
    background: BackgroundTasks,
    rank_request: RankRequest,
) -> RecommendationsResponse:
    field = "algorithm" if rank_request.algorithm is not None else "model"
    try:
        result, shadows = service.recommend(rank_request)
    except NoModelError as exc:
        raise HTTPException(503, str(exc)) from exc
    except UnknownModelError as exc:
        raise HTTPException(404, f"{field}: {exc}") from exc
    except ModelLoadError as exc:  # the version asked for exists but is not servable
        raise HTTPException(409, f"{field}: {exc}") from exc
    except RegistryUnavailableError as exc:
        raise HTTPException(503, f"{field}: {exc}") from exc
    request.state.model = str(result.model_version)
    log = request.app.state.serve_log
    log.submit(serve_log_row(result, rank_request.endpoint))
    if result.degraded:
        request.app.state.metrics.fallbacks.labels("store_unavailable").inc()
    elif result.fallback:
        request.app.state.metrics.fallbacks.labels("cold_start").inc()
    request.app.state.metrics.feature_fetch.labels(result.feature_service).observe(
        result.feature_seconds
    )
    if shadows:  # scored and logged after the response: never served, never in the way
        background.add_task(
            service.run_shadows,
            shadows,
            lambda r, of: log.submit(serve_log_row(r, rank_request.endpoint, shadow_of=of)),
        )
    return _response(result)


def _response(result: RecommendationResult) -> RecommendationsResponse:
    return RecommendationsResponse(
        request_id=result.request_id,
        user_id=result.user_id,
        model_version=result.model_version,
        algorithm=result.algorithm,
        variant=result.variant,
        fallback=result.fallback,
        degraded=result.degraded,
        items=[
            RecommendedItem(
                item_id=i.item_id,
                score=i.score,
                rank=i.rank,
                explanation=Explanation(**i.explanation) if i.explanation else None,
            )
            for i in result.items
        ],
        served_at=result.served_at,
    )


# The ranking routes are `async def` on purpose: their work is CPU-bound Python that holds the GIL
# anyway (Redis reads are sub-millisecond and time-bounded), so running them on the event loop
# saves the thread hand-off of a sync route — about a tenth of a request's CPU at 200 candidates.
@router.get("/users/{user_id}/recommendations", response_model=RecommendationsResponse)
async def recommendations(
    request: Request,
    service: ServiceDep,
    background: BackgroundTasks,
    user_id: Annotated[Identifier, Path(description="External user id")],
    k: Annotated[int, Query(ge=1, le=100, description="How many items to return")] = 10,
    model: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Model version override")
    ] = None,
    algorithm: Annotated[
        RankerName | None,
        Query(description="A ranker by name: its active version, else its newest (not with model)"),
    ] = None,
    exclude_seen: Annotated[bool, Query(description="Leave out items the user had")] = True,
    exclude: Annotated[
        list[Identifier], Query(max_length=MAX_CANDIDATES, description="Item ids to leave out")
    ] = [],  # noqa: B006 - FastAPI copies query defaults
    genre: Annotated[
        list[Text], Query(max_length=50, description="Only items in any of these genres")
    ] = [],  # noqa: B006
    # The /rank body's name for the same option: unknown query parameters are ignored (cache
    # busters), so `?genres=` would otherwise have returned an unfiltered list.
    genres: Annotated[list[Text], Query(max_length=50, description="Same as genre")] = [],  # noqa: B006
    explain: Annotated[
        bool, Query(description="Feature values and contributions per item")
    ] = False,
) -> RecommendationsResponse:
    """Ranked items for a user from the user's model (experiment arm or the active version),
    scored with online features from Feast.

    An unknown user gets the most popular items with `fallback: true`; when the online store
    does not answer, `degraded: true`.
    """
    if model is not None and algorithm is not None:
        raise RequestValidationError(
            [{"loc": ("query", "algorithm"), "msg": MODEL_OR_ALGORITHM, "type": "value_error"}]
        )
    return _answer(
        request,
        service,
        background,
        RankRequest(
            user_id=user_id, k=k, model_version=model, algorithm=algorithm,
            exclude_seen=exclude_seen, exclude=exclude, genres=[*genre, *genres], explain=explain,
        ),
    )  # fmt: skip


@router.post("/rank", response_model=RecommendationsResponse)
async def rank(
    request: Request, service: ServiceDep, background: BackgroundTasks, body: RankRequestBody
) -> RecommendationsResponse:
    """Re-rank caller-supplied candidates (up to 1,000) for a user. Candidates the model cannot
    score (items new since training) come last, in the given order, with a null score."""
    return _answer(
        request,
        service,
        background,
        RankRequest(
            user_id=body.user_id, k=body.k or len(body.candidates), candidates=body.candidates,
            model_version=body.model, algorithm=body.algorithm, exclude_seen=body.exclude_seen,
            exclude=body.exclude,
            genres=body.genres, explain=body.explain, endpoint="rank",
        ),
    )  # fmt: skip


@router.get("/items/{item_id}/similar", response_model=SimilarItemsResponse)
def similar_items(
    request: Request,
    service: ServiceDep,
    item_id: Annotated[Identifier, Path()],
    k: Annotated[int, Query(ge=1, le=100)] = 10,
) -> SimilarItemsResponse:
    """Items most often interacted with by the same users (co-occurrence cosine); an unknown
    item is a 404."""
    try:
        result = service.similar(item_id, k)
    except NoModelError as exc:
        raise HTTPException(503, str(exc)) from exc
    request.state.model = str(result.model_version)
    if not result.items and item_id not in service.catalogue:
        raise HTTPException(404, f"item_id: unknown item {item_id!r}")
    return SimilarItemsResponse(
        item_id=item_id,
        model_version=result.model_version,
        items=[
            RecommendedItem(item_id=i.item_id, score=i.score, rank=i.rank) for i in result.items
        ],
    )
