"""Bulk-load a validated dataset into the app database with COPY, in one transaction.

A load replaces the catalogue (users, items) and the interactions: either all of the new dataset
is there afterwards or, on any error, everything is as it was before.
"""

from __future__ import annotations

from psycopg.types.json import Jsonb
from sqlalchemy import Engine

from recsys.data.schema import Dataset


def load_dataset(engine: Engine, dataset: Dataset) -> dict[str, int]:
    dataset.validate()  # before the TRUNCATE: a caller that read no interactions wipes nothing
    raw = engine.raw_connection()
    try:
        conn = raw.driver_connection  # psycopg.Connection
        with conn.transaction(), conn.cursor() as cur:
            cur.execute("TRUNCATE interactions, users, items RESTART IDENTITY")
            with cur.copy("COPY users (user_id, attributes) FROM STDIN") as copy:
                copy.set_types(["text", "jsonb"])
                for user_id, attrs in zip(
                    dataset.users["user_id"], dataset.users["attributes"], strict=True
                ):
                    # the dict itself, wrapped: JSON text in a jsonb column is stored as a string
                    copy.write_row((user_id, Jsonb(attrs)))
            with cur.copy("COPY items (item_id, title, genres, attributes) FROM STDIN") as copy:
                copy.set_types(["text", "text", "text[]", "jsonb"])
                for row in dataset.items.itertuples(index=False):
                    copy.write_row(
                        (row.item_id, row.title, list(row.genres), Jsonb(row.attributes))
                    )
            # The bulk of the data: one CSV stream (pandas formats it far faster than row tuples).
            frame = dataset.interactions.assign(
                occurred_at=dataset.interactions["occurred_at"].dt.strftime("%Y-%m-%d %H:%M:%S+00")
            )[["user_id", "item_id", "rating", "occurred_at"]]
            with cur.copy(
                "COPY interactions (user_id, item_id, rating, occurred_at) FROM STDIN (FORMAT csv)"
            ) as copy:
                for start in range(0, len(frame), 50_000):
                    copy.write(frame.iloc[start : start + 50_000].to_csv(header=False, index=False))
        conn.commit()
    finally:
        raw.close()
    return {
        "users": len(dataset.users),
        "items": len(dataset.items),
        "interactions": len(dataset.interactions),
    }
