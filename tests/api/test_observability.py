"""Request ids, JSON logs without secrets, and body size limits, over HTTP on real stores."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from tests.api.conftest import KEY

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def json_logged(served, capsys):  # type: ignore[no-untyped-def]
    """An app that logs JSON lines (to the captured stderr); the root logger is restored."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    settings = served[3].model_copy(update={"log_json": True})
    try:
        with TestClient(create_app(settings)) as client:
            yield client, capsys
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)


def _lines(capsys) -> list[dict]:  # type: ignore[no-untyped-def]
    lines = []
    captured = capsys.readouterr()
    for line in captured.err.splitlines():
        try:
            lines.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return lines


def test_request_ids_are_returned_and_logged_without_secrets(served, json_logged) -> None:  # type: ignore[no-untyped-def]
    client, capsys = json_logged
    data = served[0]
    user = data.interactions["user_id"].iloc[0]
    mine = client.get(f"/v1/users/{user}/recommendations", headers={"X-Request-ID": "trace-42"})
    assert mine.headers["x-request-id"] == "trace-42"
    fresh = client.get("/healthz", headers={"X-Request-ID": "not valid; DROP TABLE"})
    generated = fresh.headers["x-request-id"]
    assert generated != "not valid; DROP TABLE" and len(generated) == 32
    event = {"events": [{"event_id": "obs-1", "user_id": user, "item_id": "0",
                         "event_type": "view"}]}  # fmt: skip
    assert client.post("/v1/events", json=event, headers={"X-API-Key": KEY}).status_code == 202
    lines = _lines(capsys)
    request_lines = [line for line in lines if line.get("event") == "request"]
    by_id = {line["request_id"]: line for line in request_lines}
    assert by_id["trace-42"]["route"] == "/v1/users/{user_id}/recommendations"
    assert by_id["trace-42"]["status"] == 200 and by_id["trace-42"]["level"] == "info"
    assert by_id[generated]["route"] == "/healthz"
    assert all("timestamp" in line for line in request_lines)
    assert KEY not in json.dumps(lines)  # no key, header or body in any log line


def test_oversized_bodies_are_refused_before_being_read(served, client) -> None:  # type: ignore[no-untyped-def]
    huge = {"user_id": "1", "candidates": ["x" * 100] * 1000, "padding": "y" * 2_000_000}
    response = client.post("/v1/rank", json=huge)
    assert response.status_code == 413
    assert client.get("/healthz").status_code == 200


def test_ids_that_are_not_valid_unicode_are_a_422_naming_the_field(served, client) -> None:  # type: ignore[no-untyped-def]
    body = '{"user_id": "1", "candidates": ["ok", "\\ud800"]}'  # a lone surrogate escape
    response = client.post("/v1/rank", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "candidates", 1]
    event = '{"event_id": "e", "user_id": "\\udfff", "item_id": "1", "event_type": "view"}'
    response = client.post(
        "/v1/events",
        content='{"events": [' + event + "]}",
        headers={"content-type": "application/json", "X-API-Key": KEY},
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "events", 0, "user_id"]
    nul = {"events": [{"event_id": "e", "user_id": "u", "item_id": "a\u0000b",
                       "event_type": "view"}]}  # fmt: skip
    response = client.post("/v1/events", json=nul, headers={"X-API-Key": KEY})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "events", 0, "item_id"]


def test_url_text_that_is_not_utf8_is_a_422_naming_the_parameter(served, client) -> None:  # type: ignore[no-untyped-def]
    """The server decodes %FF as a replacement character: several bad ids became one user."""
    for url, loc in (
        ("/v1/users/%FF/recommendations", ["path", "user_id"]),
        ("/v1/users/%ED%A0%80/recommendations", ["path", "user_id"]),  # a surrogate's bytes
        ("/v1/items/%C3/similar", ["path", "item_id"]),
        ("/v1/users/1/recommendations?exclude=%FF", ["query", "exclude"]),
        ("/v1/users/1/recommendations?genre=Dr%E4ma", ["query", "genre"]),
    ):
        response = client.get(url)
        assert response.status_code == 422, (url, response.text)
        (error,) = response.json()["detail"]
        assert error["loc"] == loc and "UTF-8" in error["msg"], url
    user = served[0].interactions["user_id"].iloc[0]
    # Percent-encoded UTF-8 is text like any other, and comes back as it was sent.
    fine = client.get(f"/v1/users/{user}/recommendations?genre=Com%C3%A9die&k=3")
    assert fine.status_code == 200, fine.text
    accented = client.get("/v1/users/%C3%A9l%C3%A8ve/recommendations")
    assert accented.status_code == 200 and accented.json()["user_id"] == "élève"
