"""`recsys simulate`: replay users through the running API, with feedback from held-out data.

Each simulated request asks the API for a user's recommendations; every served item that is in
the user's held-out interactions (what they really went on to do) is clicked, with the request's
id, through ``POST /v1/events``. That gives the weekly report real served lists and attributed
feedback. Drift can be injected, to check that the report sees it:

- ``users``: a shifted population — only the most active fifth of the users is replayed;
- ``feature``: a corrupted feature — the replayed users' ``mean_rating`` is pushed to the online
  store as 0.5 (a broken upstream job writing the wrong scale), which the API then serves;
- ``items``: new items — a fifth of each request is a ``/v1/rank`` call whose candidates include
  items the model has never seen.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
import numpy as np
import pandas as pd

DRIFTS = frozenset({"users", "feature", "items"})


@dataclass
class SimulationResult:
    requests: int = 0
    clicks: int = 0
    errors: int = 0
    drift: list[str] = field(default_factory=list)


def simulate(
    api: str | httpx.Client,
    heldout: pd.DataFrame,
    *,
    activity: pd.Series | None = None,
    requests: int = 500,
    k: int = 10,
    drift: Iterable[str] = (),
    seed: int = 0,
    api_key: str | None = None,
    store=None,  # feast.FeatureStore, for the "feature" drift  # noqa: ANN001
) -> SimulationResult:
    """``api``: the API's base URL (or an httpx client on it). ``heldout``: user_id, item_id of
    interactions the model did not train on. ``activity``: interactions per user in training
    (for the ``users`` drift)."""
    drift = sorted(set(drift))
    unknown = set(drift) - DRIFTS
    if unknown:
        raise ValueError(f"unknown drift {sorted(unknown)}: choose from {sorted(DRIFTS)}")
    rng = np.random.default_rng(seed)
    truth = heldout.astype({"user_id": str, "item_id": str}).groupby("user_id")["item_id"]
    relevant = {user: set(items) for user, items in truth}
    users = np.array(sorted(relevant))
    if "users" in drift:
        if activity is None:
            raise ValueError("the users drift needs each user's training activity")
        active = activity.astype(float).reindex(users).fillna(0)
        users = users[active.to_numpy() >= np.quantile(active, 0.8)]
    if "feature" in drift:
        _corrupt_mean_rating(store, users)
    headers = {"X-API-Key": api_key} if api_key else {}
    result = SimulationResult(drift=drift)
    client = api if isinstance(api, httpx.Client) else httpx.Client(base_url=api, timeout=10)
    client.headers.update(headers)
    with contextlib.nullcontext(client) if client is api else client:
        for i in range(requests):
            user = str(rng.choice(users))
            if "items" in drift and i % 5 == 0:
                seen = list(relevant[user])[:5]
                new = [f"new-item-{rng.integers(1_000_000)}" for _ in range(5)]
                response = client.post(
                    "/v1/rank", json={"user_id": user, "candidates": seen + new, "k": k}
                )
            else:
                response = client.get(f"/v1/users/{user}/recommendations", params={"k": k})
            result.requests += 1
            if response.status_code != 200:
                result.errors += 1
                continue
            body = response.json()
            clicks = [
                {"event_id": str(uuid.uuid4()), "user_id": user, "item_id": item["item_id"],
                 "event_type": "click", "request_id": body["request_id"]}
                for item in body["items"]
                if item["item_id"] in relevant[user]
            ]  # fmt: skip
            if clicks:
                sent = client.post("/v1/events", json={"events": clicks})
                if sent.status_code == 202:
                    result.clicks += len(clicks)
                else:
                    result.errors += 1
    return result


def _corrupt_mean_rating(store, users: np.ndarray) -> None:  # noqa: ANN001
    """Push ``mean_rating = 0.5`` for these users (their other values unchanged)."""
    if store is None:
        raise ValueError("the feature drift needs the feature store")
    from feast.data_source import PushMode

    now = datetime.now(UTC)
    current = store.get_online_features(
        features=[
            "user_stats:interaction_count", "user_stats:mean_rating",
            "user_stats:last_interaction_ts", "user_stats:days_since_last_interaction",
            "user_stats:first_interaction_ts", "user_taste:genre_counts",
        ],
        entity_rows=[{"user_id": str(u)} for u in users],
    ).to_df()  # fmt: skip
    current = current[current["interaction_count"].notna()]  # users the store knows
    for column in ("interaction_count", "last_interaction_ts", "first_interaction_ts"):
        current[column] = current[column].astype("int64")
    current["mean_rating"] = 0.5
    current["event_timestamp"] = now
    current["created_at"] = now
    store.push("user_features_push", current, to=PushMode.ONLINE)
