"""Request bodies are checked field by field: an impossible event time or a misspelt option is a
422 naming it, not a stored row or a silently ignored option (real stores)."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.api.conftest import KEY

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _event(user: str, item: str, **fields) -> dict:  # type: ignore[no-untyped-def]
    return {"event_id": f"e-{uuid.uuid4()}", "user_id": user, "item_id": item,
            "event_type": "click"} | fields  # fmt: skip


@pytest.mark.parametrize("when", ["2999-01-01T00:00:00Z", "0001-01-01T00:00:00Z"])
def test_an_event_time_the_pipeline_cannot_hold_is_refused(served, client, when) -> None:  # type: ignore[no-untyped-def]
    data, *_ = served
    user, item = str(data.interactions["user_id"].iloc[0]), str(data.items["item_id"].iloc[0])
    answer = client.post(
        "/v1/events",
        json={"events": [_event(user, item), _event(user, item, occurred_at=when)]},
        headers={"X-API-Key": KEY},
    )
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "events", 1, "occurred_at"]


@pytest.mark.parametrize("when", [0, "1970-01-01T00:00:00Z"])
def test_an_event_dated_at_the_unix_epoch_is_taken_for_an_unset_time(served, client, when) -> None:  # type: ignore[no-untyped-def]
    data, *_ = served
    user, item = str(data.interactions["user_id"].iloc[0]), str(data.items["item_id"].iloc[0])
    answer = client.post(
        "/v1/events",
        json={"events": [_event(user, item, occurred_at=when)]},
        headers={"X-API-Key": KEY},
    )
    assert answer.status_code == 422
    (error,) = answer.json()["detail"]
    assert error["loc"] == ["body", "events", 0, "occurred_at"]
    assert "Unix epoch (0), an unset time" in error["msg"]
    # a second later is a time like any other
    later = _event(user, item, occurred_at=1)
    assert (
        client.post("/v1/events", json={"events": [later]}, headers={"X-API-Key": KEY}).status_code
        == 202
    )


@pytest.mark.parametrize("rating", [True, "4"])
def test_a_rating_must_be_a_json_number(served, client, rating) -> None:  # type: ignore[no-untyped-def]
    """JSON true was stored as rating 1; a number in a string is not a number either."""
    data, *_ = served
    user, item = str(data.interactions["user_id"].iloc[0]), str(data.items["item_id"].iloc[0])
    answer = client.post(
        "/v1/events",
        json={"events": [_event(user, item, event_type="rating", rating=rating)]},
        headers={"X-API-Key": KEY},
    )
    assert answer.status_code == 422
    (error,) = answer.json()["detail"]
    assert error["loc"] == ["body", "events", 0, "rating"]
    assert error["msg"] == "Input should be a valid number"


@pytest.mark.parametrize("rating", ["NaN", "Infinity"])
def test_a_rating_that_is_not_a_number_is_named_so(served, client, rating) -> None:  # type: ignore[no-untyped-def]
    data, *_ = served
    user, item = str(data.interactions["user_id"].iloc[0]), str(data.items["item_id"].iloc[0])
    event = json.dumps(_event(user, item, event_type="rating", rating=0)).replace(
        '"rating": 0', f'"rating": {rating}'
    )  # JSON has no NaN, but Python's parser (FastAPI's) reads it
    answer = client.post(
        "/v1/events",
        content=f'{{"events": [{event}]}}',
        headers={"X-API-Key": KEY, "Content-Type": "application/json"},
    )
    assert answer.status_code == 422
    (error,) = answer.json()["detail"]
    assert error["loc"] == ["body", "events", 0, "rating"]
    assert error["msg"] == "Input should be a finite number"  # not "less than or equal to 10"


def test_a_misspelt_field_is_named_not_ignored(served, client) -> None:  # type: ignore[no-untyped-def]
    data, *_ = served
    user, item = str(data.interactions["user_id"].iloc[0]), str(data.items["item_id"].iloc[0])
    typo = client.post(
        "/v1/events",
        json={"events": [_event(user, item, timestamp="2024-01-01T00:00:00Z")]},
        headers={"X-API-Key": KEY},
    )
    assert typo.status_code == 422
    assert typo.json()["detail"][0]["loc"] == ["body", "events", 0, "timestamp"]
    ranked = client.post("/v1/rank", json={"user_id": user, "candidates": [item], "genrez": ["x"]})
    assert ranked.status_code == 422 and ranked.json()["detail"][0]["loc"] == ["body", "genrez"]


def test_rank_takes_the_get_options_name_for_genres(served, client) -> None:  # type: ignore[no-untyped-def]
    data, *_ = served
    user = str(data.interactions["user_id"].iloc[0])
    candidates = data.items["item_id"].astype(str).tolist()[:200]
    genre = data.items["genres"].iloc[0][0]
    genres = dict(zip(data.items["item_id"].astype(str), data.items["genres"], strict=True))
    kept = {item for item, its in genres.items() if genre in its}
    for key in ("genre", "genres"):
        body = client.post(
            "/v1/rank", json={"user_id": user, "candidates": candidates, key: [genre], "k": 20}
        ).json()
        assert body["items"] and {i["item_id"] for i in body["items"]} <= kept, key


def test_recommendations_take_the_rank_bodys_name_for_genres(served, client) -> None:  # type: ignore[no-untyped-def]
    """`?genres=` is the /rank body's name: as an unknown query parameter it was ignored and
    the list came back unfiltered. An empty genre matches nothing: a 422, not an empty list."""
    data, *_ = served
    user = str(data.interactions["user_id"].iloc[0])
    genre = data.items.explode("genres")["genres"].value_counts().index[-1]  # the rarest
    kept = {i for i, its in zip(data.items["item_id"], data.items["genres"], strict=True)
            if genre in its}  # fmt: skip
    url = f"/v1/users/{user}/recommendations"
    for key in ("genre", "genres"):
        body = client.get(url, params={key: genre, "k": 20}).json()
        assert body["items"] and {i["item_id"] for i in body["items"]} <= kept, key
    for key in ("genre", "genres"):
        empty = client.get(url, params={key: ""})
        assert empty.status_code == 422 and empty.json()["detail"][0]["loc"] == ["query", key, 0]
    empty = client.post("/v1/rank", json={"user_id": user, "candidates": ["1"], "genres": [""]})
    assert empty.status_code == 422 and empty.json()["detail"][0]["loc"] == ["body", "genres", 0]


def test_a_long_input_is_summarised_not_echoed_back(served, client) -> None:  # type: ignore[no-untyped-def]
    """A 422 names the field; echoing a 10,000-candidate list back sent about a megabyte."""
    candidates = [f"item-{i:05d}" for i in range(10_000)]
    answer = client.post("/v1/rank", json={"user_id": "u", "candidates": candidates})
    assert answer.status_code == 422 and len(answer.content) < 1_000, len(answer.content)
    (error,) = answer.json()["detail"]
    assert error["loc"] == ["body", "candidates"] and error["input"] == "list of 10000 items"
    short = client.get("/v1/users/u/recommendations", params={"k": "many"}).json()["detail"]
    assert short[0]["input"] == "many"  # a short input is still echoed
