"""A seeded synthetic dataset with the structure real catalogues have.

- item popularity follows a power law (a few hits, a long tail);
- users and items share latent tastes built from genres, so collaborative filtering has signal;
- users differ in activity (log-normal), ratings follow affinity, timestamps spread over a window.
The same seed always gives the same dataset.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from recsys.data.schema import Dataset

GENRES = [
    "Action", "Adventure", "Animation", "Comedy", "Crime", "Documentary", "Drama", "Fantasy",
    "Horror", "Romance", "Sci-Fi", "Thriller",
]  # fmt: skip


class SyntheticConfig(BaseModel):
    n_users: int = Field(1000, ge=2)
    n_items: int = Field(800, ge=2)
    mean_interactions_per_user: float = Field(40.0, gt=1)
    latent_dim: int = Field(8, ge=1)
    popularity_exponent: float = Field(1.0, ge=0, description="Zipf exponent of item popularity")
    taste_strength: float = Field(6.0, ge=0, description="How much tastes beat popularity")
    days: int = Field(180, ge=1)
    end: datetime = datetime(2026, 11, 1, tzinfo=UTC)
    seed: int = 42


def generate_synthetic(config: SyntheticConfig | None = None) -> Dataset:
    cfg = config or SyntheticConfig()
    rng = np.random.default_rng(cfg.seed)
    n_genres = len(GENRES)

    genre_vectors = rng.normal(size=(n_genres, cfg.latent_dim))
    item_genres = [
        sorted(rng.choice(n_genres, size=rng.integers(1, 4), replace=False).tolist())
        for _ in range(cfg.n_items)
    ]
    item_vectors = np.stack([genre_vectors[g].mean(axis=0) for g in item_genres])
    item_vectors += 0.5 * rng.normal(size=item_vectors.shape)
    item_vectors /= np.linalg.norm(item_vectors, axis=1, keepdims=True)

    favourite = [
        rng.choice(n_genres, size=rng.integers(1, 3), replace=False) for _ in range(cfg.n_users)
    ]
    user_vectors = np.stack([genre_vectors[f].mean(axis=0) for f in favourite])
    user_vectors += 0.5 * rng.normal(size=user_vectors.shape)
    user_vectors /= np.linalg.norm(user_vectors, axis=1, keepdims=True)

    # Power-law popularity over a random ordering of items.
    ranks = rng.permutation(cfg.n_items) + 1
    log_popularity = -cfg.popularity_exponent * np.log(ranks)

    activity = rng.lognormal(mean=0.0, sigma=0.8, size=cfg.n_users)
    counts = np.maximum(3, np.round(activity / activity.mean() * cfg.mean_interactions_per_user))
    counts = np.minimum(counts, cfg.n_items // 2).astype(int)

    affinity = user_vectors @ item_vectors.T  # in [-1, 1]
    logits = log_popularity[None, :] + cfg.taste_strength * affinity
    # Gumbel top-k draws items without replacement in proportion to softmax(logits).
    perturbed = logits + rng.gumbel(size=logits.shape)

    window = timedelta(days=cfg.days).total_seconds()
    start = cfg.end.timestamp() - window
    users, items, ratings, times = [], [], [], []
    for u in range(cfg.n_users):
        chosen = np.argpartition(-perturbed[u], counts[u])[: counts[u]]
        first = start + rng.uniform(0, 0.8) * window
        stamps = np.sort(rng.uniform(first, cfg.end.timestamp(), size=len(chosen)))
        stars = np.clip(3.0 + 2.0 * affinity[u, chosen] + rng.normal(0, 0.7, len(chosen)), 0.5, 5)
        users.append(np.full(len(chosen), u))
        items.append(rng.permutation(chosen))
        ratings.append(np.round(stars * 2) / 2)
        times.append(stamps)

    interactions = pd.DataFrame(
        {
            "user_id": np.concatenate(users).astype(str),
            "item_id": np.concatenate(items).astype(str),
            "rating": np.concatenate(ratings).astype(float),
            "occurred_at": pd.to_datetime(
                np.concatenate(times).astype("int64"), unit="s", utc=True
            ),
        }
    ).sort_values("occurred_at", kind="stable", ignore_index=True)

    item_frame = pd.DataFrame(
        {
            "item_id": np.arange(cfg.n_items).astype(str),
            "title": [f"Item {i} ({GENRES[g[0]]})" for i, g in enumerate(item_genres)],
            "genres": [[GENRES[x] for x in g] for g in item_genres],
            "attributes": [{"synthetic_rank": int(r)} for r in ranks],
        }
    )
    user_frame = pd.DataFrame(
        {
            "user_id": np.arange(cfg.n_users).astype(str),
            "attributes": [{"favourite_genres": [GENRES[x] for x in f]} for f in favourite],
        }
    )
    return Dataset(f"synthetic-{cfg.seed}", user_frame, item_frame, interactions)
