"""Items a user interacted with after the model's training data ended are not recommended again
(the model cannot know them): for a known user, for a cold-start user, and for `/rank`; and only
while `exclude_seen` holds (real Postgres, Redis and Feast)."""

from __future__ import annotations

import uuid

import pytest

from tests.api.conftest import KEY

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _post(client, user: str, items: list[str], kind: str = "click", **extra) -> None:  # type: ignore[no-untyped-def]
    events = [
        {"event_id": f"e-{uuid.uuid4()}", "user_id": user, "item_id": i, "event_type": kind} | extra
        for i in items
    ]
    answer = client.post("/v1/events", json={"events": events}, headers={"X-API-Key": KEY})
    assert answer.status_code == 202, answer.text


def _items(client, url: str) -> list[str]:  # type: ignore[no-untyped-def]
    body = client.get(url).json()
    return [i["item_id"] for i in body["items"]]


def test_what_a_known_user_just_did_is_not_recommended_again(served, client) -> None:  # type: ignore[no-untyped-def]
    data, *_ = served
    user = str(data.interactions["user_id"].iloc[3])
    url = f"/v1/users/{user}/recommendations?k=10"
    before = _items(client, url)
    clicked = before[:3]
    _post(client, user, clicked)
    after = _items(client, url)
    assert len(after) == 10 and not set(after) & set(clicked)
    again = _items(client, f"{url}&exclude_seen=false")
    assert set(clicked) & set(again)  # asked to, it may show them again

    ranked = client.post(
        "/v1/rank", json={"user_id": user, "candidates": [*clicked, *after[:2]]}
    ).json()
    assert [i["item_id"] for i in ranked["items"]] == sorted(
        after[:2], key=after.index
    )  # the clicked candidates are dropped, as seen ones are


def test_what_a_cold_start_user_did_is_not_among_their_popular_items(served, client) -> None:  # type: ignore[no-untyped-def]
    newcomer = f"u-{uuid.uuid4()}"
    url = f"/v1/users/{newcomer}/recommendations?k=5"
    popular = _items(client, url)
    _post(client, newcomer, popular[:2], kind="view")
    body = client.get(url).json()
    assert body["fallback"] is True
    got = [i["item_id"] for i in body["items"]]
    assert got[:3] == popular[2:5] and not set(got) & set(popular[:2])


def test_a_late_event_dated_before_training_is_still_news_to_the_model(served, client) -> None:  # type: ignore[no-untyped-def]
    """A client syncing offline clicks sends old times; the model has not seen them either."""
    data, *_ = served
    user = str(data.interactions["user_id"].iloc[4])
    url = f"/v1/users/{user}/recommendations?k=10"
    top = _items(client, url)[0]
    _post(client, user, [top], occurred_at="2000-01-01T00:00:00Z")  # before the training data
    assert top not in _items(client, url)
