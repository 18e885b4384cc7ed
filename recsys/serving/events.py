"""Feedback events: stored durably and idempotently, then pushed to the online features.

One transaction per batch: new users are added to the catalogue, each event is inserted once
per client ``event_id`` (a retried batch is a no-op for the ids already stored) and becomes an
interaction, so feature builds and training see it. Items must be in the catalogue: a batch
naming an unknown item is refused whole, before anything is written.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, bindparam, insert, text
from sqlalchemy.dialects.postgresql import insert as pg_insert

from recsys.db.models import Event, Interaction, User


@dataclass(frozen=True)
class IncomingEvent:
    event_id: str
    user_id: str
    item_id: str
    event_type: str
    occurred_at: datetime
    rating: float | None = None
    request_id: uuid.UUID | None = None


class UnknownItemsError(ValueError):
    def __init__(self, positions: list[tuple[int, str]]) -> None:
        self.positions = positions
        shown = ", ".join(f"events[{i}].item_id={item!r}" for i, item in positions[:5])
        super().__init__(f"unknown item(s), nothing stored: {shown}")


@dataclass(frozen=True)
class StoredEvents:
    stored: list[IncomingEvent]
    duplicates: int


def store_events(engine: Engine, events: Sequence[IncomingEvent]) -> StoredEvents:
    """Insert the batch (all or nothing); returns the events that were new."""
    if not events:
        return StoredEvents([], 0)
    with engine.begin() as conn:
        wanted = sorted({e.item_id for e in events})
        known = set(
            conn.execute(
                text("SELECT item_id FROM items WHERE item_id IN :ids").bindparams(
                    bindparam("ids", expanding=True)
                ),
                {"ids": wanted},
            ).scalars()
        )
        unknown = [(i, e.item_id) for i, e in enumerate(events) if e.item_id not in known]
        if unknown:
            raise UnknownItemsError(unknown)
        conn.execute(
            pg_insert(User)
            .values([{"user_id": u} for u in sorted({e.user_id for e in events})])
            .on_conflict_do_nothing(index_elements=["user_id"])
        )
        new_ids = set(
            conn.execute(
                pg_insert(Event)
                .values(
                    [
                        {
                            "event_id": e.event_id,
                            "user_id": e.user_id,
                            "item_id": e.item_id,
                            "event_type": e.event_type,
                            "rating": e.rating,
                            "occurred_at": e.occurred_at,
                            "request_id": e.request_id,
                        }
                        for e in events
                    ]
                )
                .on_conflict_do_nothing(index_elements=["event_id"])
                .returning(Event.event_id)
            ).scalars()
        )
        stored, taken = [], set()
        for e in events:  # the first of repeated ids within the batch is the one stored
            if e.event_id in new_ids and e.event_id not in taken:
                taken.add(e.event_id)
                stored.append(e)
        if stored:
            conn.execute(
                insert(Interaction),
                [
                    {
                        "user_id": e.user_id,
                        "item_id": e.item_id,
                        "rating": e.rating,
                        "event_type": e.event_type,
                        "occurred_at": e.occurred_at,
                    }
                    for e in stored
                ],
            )
    return StoredEvents(stored, len(events) - len(stored))
