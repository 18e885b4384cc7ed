"""The serve log (Postgres) as a flat frame: one row per served item, with its features."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import Engine, select

from recsys.db.models import ServedRequest


def read_served_items(engine: Engine, since: datetime, until: datetime) -> pd.DataFrame:
    """Columns: request_id, model_version, fallback, user_id, item_id, rank, score, features.

    Only what was served: shadow rows (scored, never shown) are left out."""
    query = select(ServedRequest).where(
        ServedRequest.served_at >= since,
        ServedRequest.served_at < until,
        ServedRequest.shadow_of.is_(None),
    )
    rows: list[dict[str, object]] = []
    with engine.connect() as conn:
        for req in conn.execute(query).mappings():
            user_features = req["features"].get("user", {})
            item_features = req["features"].get("items", [])
            for rank, (item, score) in enumerate(zip(req["items"], req["scores"], strict=True), 1):
                row = {
                    "request_id": str(req["request_id"]),
                    "model_version": req["model_version"],
                    "fallback": req["fallback"],
                    "user_id": req["user_id"],
                    "item_id": item,
                    "rank": rank,
                    "score": score,
                    **user_features,
                }
                if rank <= len(item_features):
                    row.update(item_features[rank - 1])
                rows.append(row)
    return pd.DataFrame(rows)
