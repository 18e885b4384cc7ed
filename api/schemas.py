"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from recsys.data.schema import RATING_RANGE

MAX_CANDIDATES = 1_000
MAX_EVENTS = 1_000
MAX_ID = 2**31 - 1  # model versions and report ids are Postgres integers
MODEL_OR_ALGORITHM = "give model (a version) or algorithm (a ranker's name), not both"


def _storable(value: str) -> str:
    """Ids travel to Redis keys and Postgres text: text that is not valid Unicode (a lone
    surrogate from a ``\\udXXX`` JSON escape) or holds NUL (which Postgres text cannot store) is
    refused here, as a 422 naming the field."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("must be valid UTF-8 text (no lone surrogates)") from exc
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


#: an external user or item id
Identifier = Annotated[
    str, StringConstraints(min_length=1, max_length=128), AfterValidator(_storable)
]


def _registered_ranker(name: str) -> str:
    from recsys.ranking import get_ranker_class  # the registry fills itself on first use

    get_ranker_class(name)  # its ValueError names what is installed, or why a plugin is broken
    return name


#: a ranker's registered name (`algorithm=`)
RankerName = Annotated[str, StringConstraints(max_length=64), AfterValidator(_registered_ranker)]
#: free text that also ends up in queries (genres, event types)
Text = Annotated[  # not empty: an empty genre matched nothing and gave an empty list
    str, StringConstraints(min_length=1, max_length=128), AfterValidator(_storable)
]


class Explanation(BaseModel):
    features: dict[str, Any] = Field(description="Online feature values the model was given")
    inputs: dict[str, Any] | None = Field(None, description="The model's own inputs")
    contributions: dict[str, float] | None = Field(
        None,
        description="Per-input contribution to the score (LightGBM pred_contrib, + bias; for a "
        "blended two_stage model in units of the boosters' spread, + the blended scorer's term, "
        "e.g. ease_blend): they add up to the score",
    )


class RecommendedItem(BaseModel):
    item_id: str
    score: float | None = Field(description="Null for a candidate the model cannot score")
    rank: int = Field(ge=1)
    explanation: Explanation | None = None


class RecommendationsResponse(BaseModel):
    request_id: UUID
    user_id: str
    model_version: int
    algorithm: str
    variant: str = Field(
        description="Experiment arm: active, vN (split), override-vN (model= or algorithm=)"
    )
    fallback: bool = Field(description="True when popular items are served instead of a ranking")
    degraded: bool = Field(description="True when the online store did not answer")
    items: list[RecommendedItem]
    served_at: datetime

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "request_id": "0b6f7c1e-8d2a-4f4e-9a51-2d7c9b1f3e10",
                    "user_id": "42",
                    "model_version": 3,
                    "algorithm": "two_stage",
                    "variant": "active",
                    "fallback": False,
                    "degraded": False,
                    "items": [{"item_id": "318", "score": 0.91, "rank": 1}],
                    "served_at": "2026-11-29T12:00:00Z",
                }
            ]
        }
    }


class RankRequestBody(BaseModel):
    user_id: Identifier
    candidates: list[Identifier] = Field(
        min_length=1, max_length=MAX_CANDIDATES, description="Item ids to re-rank (≤ 1,000)"
    )
    k: int | None = Field(None, ge=1, le=MAX_CANDIDATES, description="Default: all candidates")
    model: int | None = Field(
        None, ge=1, le=MAX_ID, description="Model version (default: the user's arm)"
    )
    algorithm: RankerName | None = Field(
        None, description="A ranker by name: its active version, else its newest (not with model)"
    )
    exclude_seen: bool = True
    exclude: list[Identifier] = Field(default_factory=list, max_length=MAX_CANDIDATES)
    # "genre" too: the GET option's name, which the README calls the same option
    genres: list[Text] = Field(
        default_factory=list, max_length=50, validation_alias=AliasChoices("genres", "genre")
    )
    explain: bool = False

    @field_validator("algorithm")
    @classmethod
    def _one_model_choice(cls, algorithm: str | None, info: ValidationInfo) -> str | None:
        if algorithm is not None and info.data.get("model") is not None:
            raise ValueError(MODEL_OR_ALGORITHM)  # on the field, so the 422 names it
        return algorithm

    model_config = {
        "extra": "forbid",  # a misspelt option would otherwise be ignored without a word
        "json_schema_extra": {
            "examples": [{"user_id": "42", "candidates": ["1", "50", "318"], "k": 2}]
        },
    }


class SimilarItemsResponse(BaseModel):
    item_id: str
    model_version: int
    items: list[RecommendedItem]


#: How far ahead of the server's clock an event may be dated (clients' clocks drift).
MAX_CLOCK_SKEW = timedelta(days=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _plausible_time(value: datetime | None) -> datetime | None:
    """An event time the feature pipeline can hold: a naive time is UTC; before 1970 or more
    than a day ahead is refused (year 1 or 2999 once stopped every feature build)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    if value == EPOCH:
        # 0 is what an unset time becomes in many clients; taken as a date, it made one item's
        # first interaction 1970 for every user's features and moved the training window there.
        raise ValueError("is the Unix epoch (0), an unset time: leave occurred_at out for now")
    if value < EPOCH or value > datetime.now(UTC) + MAX_CLOCK_SKEW:
        raise ValueError("must be between 1970 and a day from now")
    return value


class EventIn(BaseModel):
    event_id: Identifier = Field(description="Client id: sent twice, stored once")
    user_id: Identifier
    item_id: Identifier
    event_type: str = Field(
        min_length=1, max_length=32, pattern=r"^[a-z_]+$", examples=["view", "click", "rating"]
    )
    # NaN or Infinity is no rating: without allow_inf_nan, NaN failed the bound check instead
    # and was told it "should be less than or equal to 10". Strict: JSON true was stored as 1.
    rating: float | None = Field(
        None, ge=RATING_RANGE[0], le=RATING_RANGE[1], allow_inf_nan=False, strict=True
    )
    occurred_at: Annotated[datetime | None, AfterValidator(_plausible_time)] = Field(
        None,
        description="Default: when received. UTC unless it names a zone; from 1970 to at most "
        "a day ahead of the server's clock",
    )
    request_id: UUID | None = Field(None, description="The recommendation this answers")

    model_config = {"extra": "forbid"}  # a misspelt field would otherwise vanish unnoticed


class EventsBody(BaseModel):
    events: list[EventIn] = Field(min_length=1, max_length=MAX_EVENTS)

    model_config = {
        "extra": "forbid",
        "json_schema_extra": {
            "examples": [
                {
                    "events": [
                        {"event_id": "c-1", "user_id": "42", "item_id": "318",
                         "event_type": "click"}
                    ]
                }
            ]
        }
    }  # fmt: skip


class EventsResponse(BaseModel):
    stored: int
    duplicates: int
    features_pushed: bool = Field(
        description="The users' online features were updated before the answer (inline ingestion)"
    )
    features_queued: bool = Field(
        False, description="The users were announced to the feature-update workers (stream)"
    )


class ModelInfo(BaseModel):
    """A registry row: what was trained, on which data window, and the artifact's checksum."""

    model_config = ConfigDict(from_attributes=True)

    version: int
    algorithm: str
    feature_service: str
    params: dict[str, Any]
    metrics: dict[str, Any]
    train_start: datetime | None
    train_end: datetime | None
    n_interactions: int
    artifact_sha256: str
    is_active: bool
    created_at: datetime
    activated_at: datetime | None


class HealthResponse(BaseModel):
    status: str


class ReadinessResponse(BaseModel):
    status: str
    checks: dict[str, str]
