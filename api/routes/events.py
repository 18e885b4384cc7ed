from __future__ import annotations

import logging
from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, Request
from sqlalchemy.exc import OperationalError

from api.deps import WriteKey
from api.schemas import EventsBody, EventsResponse
from recsys.features.push import push_user_features
from recsys.serving.events import IncomingEvent, UnknownItemsError, store_events

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["events"])


@router.post(
    "/events",
    response_model=EventsResponse,
    status_code=202,
    dependencies=[WriteKey],
    responses={422: {"description": "A field is invalid or an item is unknown: nothing stored"},
               503: {"description": "The database is unavailable: nothing stored, retry"}},
)  # fmt: skip
def post_events(request: Request, body: EventsBody) -> EventsResponse:
    """Store a batch of feedback events, then refresh the users' online features.

    Stored in Postgres (one transaction) before the 202, once per `event_id` (a retry is
    harmless). The users' activity and taste features are then recomputed and pushed to the
    online store, so their next recommendation reflects the events: here, or, with
    `RECSYS_EVENT_INGESTION=stream`, by `recsys worker features` reading a Redis stream.
    """
    now = datetime.now(UTC)
    events = [
        IncomingEvent(
            event_id=e.event_id, user_id=e.user_id, item_id=e.item_id, event_type=e.event_type,
            occurred_at=e.occurred_at or now, rating=e.rating, request_id=e.request_id,
        )
        for e in body.events
    ]  # fmt: skip
    state = request.app.state
    try:
        result = store_events(state.engine, events)
    except UnknownItemsError as exc:
        raise HTTPException(
            422,
            [{"loc": ["body", "events", i, "item_id"], "msg": f"unknown item {item!r}",
              "type": "value_error"} for i, item in exc.positions],
        ) from exc  # fmt: skip
    except OperationalError as exc:
        raise HTTPException(503, "database unavailable: nothing stored, retry") from exc
    state.metrics.events.labels("stored").inc(len(result.stored))
    state.metrics.events.labels("duplicate").inc(result.duplicates)
    pushed = queued = False
    if result.stored:
        # before anything slower: the user's next request must already leave these items out
        state.recent.record((e.user_id, e.item_id) for e in result.stored)
        users = {e.user_id for e in result.stored}
        try:  # stored already: if this fails, the next feature build catches up
            if state.event_stream is not None:
                state.event_stream.publish(users, [e.event_id for e in result.stored])
                queued = True
            else:
                push_user_features(state.store, state.engine, users)
                pushed = True
        except Exception:
            logger.exception("updating the users' online features failed")
    return EventsResponse(
        stored=len(result.stored), duplicates=result.duplicates, features_pushed=pushed,
        features_queued=queued,
    )  # fmt: skip
