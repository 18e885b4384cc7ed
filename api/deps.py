"""Dependencies named once, used by every route."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from recsys.serving.recommender import RecommendationService


def get_service(request: Request) -> RecommendationService:
    return request.app.state.service


ServiceDep = Annotated[RecommendationService, Depends(get_service)]


def _key_check(required: bool, reads: bool = False):  # noqa: ANN202 - a dependency factory
    def check(
        request: Request,
        x_api_key: Annotated[str | None, Header(description="API key")] = None,
    ) -> None:
        if reads and not request.app.state.protect_reads:
            return
        keys = request.app.state.api_keys
        if not keys.configured:
            if required:
                raise HTTPException(
                    403, "no API keys are configured (RECSYS_API_KEYS): admin is off"
                )
            return
        if not keys.accepts(x_api_key):
            raise HTTPException(401, "missing or wrong X-API-Key header")

    return check


#: reads: open unless RECSYS_PROTECT_READS (which needs keys configured)
ReadKey = Depends(_key_check(required=True, reads=True))
#: events: open when no keys are configured (a local demo), keyed otherwise
WriteKey = Depends(_key_check(required=False))
#: model activation: always needs a configured key
AdminKey = Depends(_key_check(required=True))
