"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field


class RecommendedItem(BaseModel):
    item_id: str
    score: float
    rank: int = Field(ge=1)


class RecommendationsResponse(BaseModel):
    request_id: UUID
    user_id: str
    model_version: int
    algorithm: str
    fallback: bool = Field(description="True when the user is unknown and popular items are served")
    items: list[RecommendedItem]
    served_at: datetime

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "request_id": "0b6f7c1e-8d2a-4f4e-9a51-2d7c9b1f3e10",
                    "user_id": "42",
                    "model_version": 3,
                    "algorithm": "als",
                    "fallback": False,
                    "items": [{"item_id": "318", "score": 0.91, "rank": 1}],
                    "served_at": "2026-11-28T12:00:00Z",
                }
            ]
        }
    }


class HealthResponse(BaseModel):
    status: str


class ReadinessResponse(BaseModel):
    status: str
    checks: dict[str, str]
