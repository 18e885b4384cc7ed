from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, HTTPException, Path, Query

from api.deps import ServiceDep
from api.schemas import RecommendationsResponse, RecommendedItem
from recsys.serving.recommender import NoModelError

router = APIRouter(prefix="/v1", tags=["recommendations"])


@router.get("/users/{user_id}/recommendations", response_model=RecommendationsResponse)
def recommendations(
    service: ServiceDep,
    background: BackgroundTasks,
    user_id: Annotated[str, Path(min_length=1, max_length=128, description="External user id")],
    k: Annotated[int, Query(ge=1, le=100, description="How many items to return")] = 10,
) -> RecommendationsResponse:
    """Ranked items for a user from the active model, scored with online features from Feast.

    An unknown user gets the most popular items with `fallback: true`.
    """
    try:
        result = service.recommend(user_id, k)
    except NoModelError as exc:
        raise HTTPException(status_code=503, detail=str(exc)) from exc
    # Logged after the response is sent, so the client does not wait for the insert.
    background.add_task(service.log, result)
    return RecommendationsResponse(
        request_id=result.request_id,
        user_id=result.user_id,
        model_version=result.model_version,
        algorithm=result.algorithm,
        fallback=result.fallback,
        items=[
            RecommendedItem(item_id=i.item_id, score=i.score, rank=i.rank) for i in result.items
        ],
        served_at=result.served_at,
    )
