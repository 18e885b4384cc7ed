"""The serve log (Postgres) as flat frames: one row per served slot (item in a served list).

Only what was served: shadow rows (scored, never shown) are left out. Lists are unnested in SQL
(a week of a busy API is millions of slots); feature vectors, logged for a sample of requests,
are read separately and only when asked for.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import Engine, text

# LEFT JOIN LATERAL: a request that served an empty list (a filter nothing matched) keeps one
# row with no item, so it still counts as a request (a miss), not as nothing.
SLOTS = text(
    """
    SELECT s.request_id::text AS request_id, s.model_version, s.fallback, s.degraded,
           s.user_id, s.served_at, u.item_id, u.rank::int AS rank, u.score
    FROM served_requests s
    LEFT JOIN LATERAL unnest(s.items, s.scores) WITH ORDINALITY AS u(item_id, score, rank)
      ON true
    WHERE s.served_at >= :since AND s.served_at < :until AND s.shadow_of IS NULL
    """
)

# Filtered by version in SQL, before the LIMIT: cold-start answers and other versions log
# vectors too, and a sample of them would leave few or none of the version's own.
LOGGED = text(
    """
    SELECT request_id::text AS request_id, features
    FROM served_requests
    WHERE served_at >= :since AND served_at < :until AND shadow_of IS NULL
      AND features ? 'items' AND NOT fallback AND model_version = :version
    ORDER BY request_id
    LIMIT :limit
    """
)


def read_served_slots(engine: Engine, since: datetime, until: datetime) -> pd.DataFrame:
    """Columns: request_id, model_version, fallback, degraded, user_id, served_at, item_id, rank
    (1-based), score; a request that served an empty list has one row with item_id, rank and score
    missing."""
    with engine.connect() as conn:
        return pd.read_sql_query(SLOTS, conn, params={"since": since, "until": until})


def read_logged_features(
    engine: Engine, since: datetime, until: datetime, version: int, max_requests: int = 1_000_000
) -> pd.DataFrame:
    """One row per served slot of model ``version``'s personalised requests whose feature
    vectors were logged (at most ``max_requests`` of them, chosen by request id: effectively at
    random), with the user's and the item's features as columns; keyed by request_id and rank."""
    rows: list[dict[str, object]] = []
    with engine.connect() as conn:
        result = conn.execute(
            LOGGED, {"since": since, "until": until, "version": version, "limit": max_requests}
        )
        for request_id, features in result:
            user = features.get("user", {})
            for rank, item in enumerate(features.get("items", []), 1):
                rows.append({"request_id": request_id, "rank": rank, **user, **item})
    return pd.DataFrame(rows)
