"""Traffic split between model versions by a stable hash of the user, plus shadow models.

A user always lands in the same arm for a given experiment salt (so their experience is
consistent and their feedback is attributable), independent of process, restart or replica.
"""

from __future__ import annotations

import hashlib

from pydantic import BaseModel, Field, field_validator


class ExperimentConfig(BaseModel):
    """``RECSYS_EXPERIMENT='{"weights": {"3": 0.9, "4": 0.1}, "shadows": [5]}'``.

    Without weights every user gets the registry's active version."""

    weights: dict[int, float] = Field(
        default_factory=dict, description="Model version → share of users (normalised)"
    )
    shadows: list[int] = Field(
        default_factory=list, description="Versions scored and logged on every request, not served"
    )
    salt: str = Field("default", description="Change it to reshuffle users between arms")

    @field_validator("weights")
    @classmethod
    def _positive(cls, weights: dict[int, float]) -> dict[int, float]:
        if any(w < 0 for w in weights.values()) or (weights and sum(weights.values()) <= 0):
            raise ValueError("experiment weights must be non-negative with a positive sum")
        return weights


def user_bucket(user_id: str, salt: str) -> float:
    """A number in [0, 1) fixed by (salt, user): blake2b, not Python's per-process hash()."""
    digest = hashlib.blake2b(f"{salt}:{user_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def assign_version(user_id: str, config: ExperimentConfig) -> int | None:
    """The version this user is served under the split; None when there is no split."""
    if not config.weights:
        return None
    total = sum(config.weights.values())
    point = user_bucket(user_id, config.salt) * total
    upto = 0.0
    versions = sorted(config.weights)
    for version in versions:
        upto += config.weights[version]
        if point < upto:
            return version
    return versions[-1]
