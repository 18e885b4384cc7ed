"""A generic interactions CSV: ``user,item[,rating],timestamp`` with a header row.

Accepted header names: user|user_id, item|item_id, rating (optional), timestamp|ts|occurred_at;
one column per role (a header with both `user` and `user_id` is refused, not guessed).
Timestamps are Unix seconds or ISO-8601. Users and items are derived from the interactions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from recsys.data.parsing import (
    derive_items,
    derive_users,
    parse_rating,
    parse_timestamp,
    read_table,
    require_nonempty,
)
from recsys.data.schema import DataFormatError, Dataset

ALIASES = {
    "user": ("user", "user_id", "userId"),
    "item": ("item", "item_id", "itemId", "movieId"),
    "rating": ("rating", "score", "value"),
    "timestamp": ("timestamp", "ts", "occurred_at", "time"),
}


def _column(frame: pd.DataFrame, role: str, path: Path, *, required: bool) -> str | None:
    present = [name for name in ALIASES[role] if name in frame.columns]
    if len(present) > 1:  # e.g. `user` and `user_id`: reading either would be a guess
        raise DataFormatError(
            path, f"{len(present)} {role} columns: {present}; keep one of them", line=1
        )
    if present:
        return present[0]
    if required:
        raise DataFormatError(
            path, f"no {role} column: expected one of {list(ALIASES[role])}", line=1
        )
    return None


def read_interactions_csv(path: Path) -> Dataset:
    frame = read_table(path)
    user = _column(frame, "user", path, required=True)
    item = _column(frame, "item", path, required=True)
    ts = _column(frame, "timestamp", path, required=True)
    rating = _column(frame, "rating", path, required=False)
    assert user and item and ts
    interactions = pd.DataFrame(
        {
            "user_id": require_nonempty(frame, user, path),
            "item_id": require_nonempty(frame, item, path),
            "rating": (
                parse_rating(frame, rating, path, optional=True)
                if rating
                else pd.Series(np.nan, index=frame.index)
            ),
            "occurred_at": parse_timestamp(frame, ts, path),
        }
    )
    data = Dataset(
        path.stem, derive_users(interactions), derive_items(interactions), interactions, path
    )
    data.validate()  # read_dataset does too, but explicit train/test files come here directly
    return data
