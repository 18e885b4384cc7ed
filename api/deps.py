"""Dependencies named once, used by every route."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from recsys.serving.recommender import RecommendationService


def get_service(request: Request) -> RecommendationService:
    return request.app.state.service


ServiceDep = Annotated[RecommendationService, Depends(get_service)]
