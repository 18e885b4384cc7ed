"""Every endpoint over HTTP on real Postgres, Redis and Feast, on one Redis server and again on a
six-node Redis Cluster: recommendations with filters and explanations, rank, similar, events
(idempotent, fresh features after them), models, metrics, and experiments with shadows
(outages: test_redis_outage.py, test_postgres_outage.py)."""

from __future__ import annotations

import time
import uuid

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.app import create_app
from recsys.config import Settings
from recsys.db.models import Model
from recsys.infra.endpoints import connect_redis
from recsys.infra.services import resolve_endpoints
from recsys.ranking import registry as ranker_registry
from recsys.ranking.popularity import PopularityRanker
from recsys.serving.experiments import ExperimentConfig, assign_version
from recsys.training.registry import register_model
from tests.api.conftest import KEY

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    # every test here runs on one Redis server and again on a six-node Redis Cluster
    pytest.mark.parametrize("served", ["redis", "redis_cluster"], indirect=True),
]


def _items(body: dict) -> list[str]:
    return [i["item_id"] for i in body["items"]]


def test_recommendations_filter_explain_and_log(served, client, engine) -> None:  # type: ignore[no-untyped-def]
    data, _, lgbm, _ = served
    user = data.interactions["user_id"].iloc[0]
    seen = set(data.interactions.loc[data.interactions.user_id == user, "item_id"])
    body = client.get(f"/v1/users/{user}/recommendations", params={"k": 10}).json()
    assert (body["model_version"], body["algorithm"]) == (lgbm.version, "lightgbm")
    assert body["variant"] == "active" and not body["fallback"] and not body["degraded"]
    assert len(body["items"]) == 10 and not set(_items(body)) & seen

    excluded = _items(body)[:3]
    again = client.get(
        f"/v1/users/{user}/recommendations", params={"k": 10, "exclude": excluded}
    ).json()
    assert not set(_items(again)) & set(excluded)

    genre = data.items.explode("genres")["genres"].value_counts().index[0]
    in_genre = set(data.items.loc[data.items.genres.map(lambda g: genre in g), "item_id"])
    filtered = client.get(
        f"/v1/users/{user}/recommendations", params={"k": 5, "genre": genre.upper()}
    ).json()
    assert len(filtered["items"]) == 5 and set(_items(filtered)) <= in_genre

    explained = client.get(
        f"/v1/users/{user}/recommendations", params={"k": 3, "explain": True}
    ).json()
    for item in explained["items"]:
        contributions = item["explanation"]["contributions"]
        assert sum(contributions.values()) == pytest.approx(item["score"], abs=1e-6)
        assert item["explanation"]["features"]["user_stats__interaction_count"] == len(seen)

    assert client.get(f"/v1/users/{user}/recommendations?k=0").status_code == 422
    missing = client.get(f"/v1/users/{user}/recommendations?model=999")
    assert missing.status_code == 404 and "model" in missing.json()["detail"]
    row = None
    deadline = time.monotonic() + 5  # the serve log is written off the response path
    while row is None and time.monotonic() < deadline:
        with engine.connect() as conn:
            row = conn.execute(
                text("SELECT items, variant, endpoint, features FROM served_requests "
                     "WHERE request_id = :r"), {"r": body["request_id"]},
            ).one_or_none()  # fmt: skip
        time.sleep(0.05)
    assert row is not None
    assert row.items == _items(body) and row.variant == "active"
    assert row.endpoint == "recommendations" and len(row.features["items"]) == 10


def test_rank_reranks_up_to_1000_candidates(served, client) -> None:  # type: ignore[no-untyped-def]
    data, *_ = served
    user = data.interactions["user_id"].iloc[1]
    seen = set(data.interactions.loc[data.interactions.user_id == user, "item_id"])
    candidates = data.items["item_id"].tolist() + ["brand-new-item"]
    body = client.post(
        "/v1/rank", json={"user_id": user, "candidates": candidates, "exclude_seen": True}
    ).json()
    ranked = _items(body)
    assert len(ranked) == len(candidates) - len(seen)
    assert not set(ranked) & seen and ranked[-1] == "brand-new-item"
    scores = [i["score"] for i in body["items"]]
    assert scores[-1] is None and scores[:-1] == sorted(scores[:-1], reverse=True)
    top = client.post("/v1/rank", json={"user_id": user, "candidates": ranked[::-1], "k": 5}).json()
    assert _items(top) == ranked[:5]  # the order does not depend on the order given
    too_many = client.post("/v1/rank", json={"user_id": user, "candidates": ["1"] * 1001})
    assert too_many.status_code == 422
    assert too_many.json()["detail"][0]["loc"] == ["body", "candidates"]


def test_rank_for_an_unknown_user_is_by_popularity_and_flagged(served, client) -> None:  # type: ignore[no-untyped-def]
    data, *_ = served
    by_popularity = data.interactions["item_id"].value_counts()
    # distinct counts, so the expected order is unambiguous; given least popular first
    distinct = by_popularity[~by_popularity.duplicated(keep=False)].index[:4].tolist()
    given = [*distinct[::-1], "brand-new-item"]
    body = client.post("/v1/rank", json={"user_id": "never-seen-user", "candidates": given}).json()
    assert body["fallback"] is True
    assert _items(body) == [*distinct, "brand-new-item"]
    assert [i["score"] is None for i in body["items"]] == [False] * 4 + [True]


def test_similar_items(served, client) -> None:  # type: ignore[no-untyped-def]
    data, *_ = served
    item = data.interactions["item_id"].value_counts().index[0]
    body = client.get(f"/v1/items/{item}/similar", params={"k": 5}).json()
    assert len(body["items"]) == 5 and item not in _items(body)
    scores = [i["score"] for i in body["items"]]
    assert scores == sorted(scores, reverse=True) and 0 < scores[-1] <= scores[0] <= 1
    assert client.get("/v1/items/no-such-item/similar").status_code == 404


def test_events_are_stored_once_and_seen_by_the_next_request(served, client, engine) -> None:  # type: ignore[no-untyped-def]
    data, *_ = served
    user = data.interactions["user_id"].iloc[2]
    url = f"/v1/users/{user}/recommendations?k=1&explain=true"
    before = client.get(url).json()["items"][0]["explanation"]["features"]
    item = data.items["item_id"].iloc[0]
    event_id = f"e-{uuid.uuid4()}"
    batch = {"events": [{"event_id": event_id, "user_id": user, "item_id": item,
                         "event_type": "click"}]}  # fmt: skip
    headers = {"X-API-Key": KEY}
    assert client.post("/v1/events", json=batch).status_code == 401
    first = client.post("/v1/events", json=batch, headers=headers)
    assert first.status_code == 202 and first.json() == {
        "stored": 1, "duplicates": 0, "features_pushed": True, "features_queued": False,
    }  # fmt: skip
    retry = client.post("/v1/events", json=batch, headers=headers).json()
    assert (retry["stored"], retry["duplicates"]) == (0, 1)
    after = client.get(url).json()["items"][0]["explanation"]["features"]
    count = "user_stats__interaction_count"
    assert after[count] == before[count] + 1

    refused = [f"e-{uuid.uuid4()}", f"e-{uuid.uuid4()}"]
    bad = client.post(
        "/v1/events",
        json={"events": [
            {"event_id": refused[0], "user_id": user, "item_id": item, "event_type": "view"},
            {"event_id": refused[1], "user_id": user, "item_id": "nope", "event_type": "view"},
        ]},
        headers=headers,
    )  # fmt: skip
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "events", 1, "item_id"]
    new_user, new_event = f"u-{uuid.uuid4()}", f"e-{uuid.uuid4()}"
    assert client.post(
        "/v1/events",
        json={"events": [{"event_id": new_event, "user_id": new_user,
                          "item_id": item, "event_type": "view"}]},
        headers=headers,
    ).status_code == 202  # fmt: skip
    with engine.connect() as conn:
        stored = conn.execute(
            text("SELECT count(*) FROM events WHERE event_id = ANY(:ids)"),
            {"ids": [event_id, *refused, new_event]},
        ).scalar_one()
        interactions = conn.execute(
            text("SELECT count(*) FROM interactions WHERE user_id = :u AND event_type = 'click'"),
            {"u": user},
        ).scalar_one()
    assert (stored, interactions) == (2, 1)  # the refused batch left nothing behind


def test_models_list_and_activate(served, client) -> None:  # type: ignore[no-untyped-def]
    data, als, lgbm, _ = served
    listed = client.get("/v1/models").json()
    assert {m["version"] for m in listed} >= {als.version, lgbm.version}
    mine = next(m for m in listed if m["version"] == als.version)
    assert mine["artifact_sha256"] == als.artifact_sha256
    assert mine["train_start"] < mine["train_end"] and mine["n_interactions"] > 0
    url = f"/v1/models/{als.version}/activate"
    assert client.post(url).status_code == 401
    assert client.post(url, headers={"X-API-Key": "wrong"}).status_code == 401
    activated = client.post(url, headers={"X-API-Key": KEY})
    assert activated.status_code == 200 and activated.json()["is_active"]
    user = data.interactions["user_id"].iloc[0]
    try:
        body = client.get(f"/v1/users/{user}/recommendations").json()
        assert body["model_version"] == als.version
    finally:
        client.post(f"/v1/models/{lgbm.version}/activate", headers={"X-API-Key": KEY})
    assert client.post("/v1/models/999/activate", headers={"X-API-Key": KEY}).status_code == 404


def test_a_ranker_asked_for_by_name(served, client, engine, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """`algorithm=NAME` serves that ranker's active version when it is active, else its newest;
    a ranker never trained is a 404, an unknown name or both choices a 422, each naming the
    field."""
    data, als, lgbm, _ = served
    user = data.interactions["user_id"].iloc[0]
    url = f"/v1/users/{user}/recommendations"

    def served_by(**params: object) -> tuple[int, str, str]:
        body = client.get(url, params=params).json()
        return body["model_version"], body["algorithm"], body["variant"]

    def posted_by(**fields: object) -> int:
        body = {"user_id": user, "candidates": data.items["item_id"].tolist()[:20], **fields}
        return client.post("/v1/rank", json=body).json()["model_version"]

    assert served_by(algorithm="lightgbm") == (
        lgbm.version,
        "lightgbm",
        f"override-v{lgbm.version}",
    )
    assert served_by(algorithm="als") == (als.version, "als", f"override-v{als.version}")
    # A newer ALS version (the same artifact, registered later, not activated) is the newest...
    newer = {c.key: getattr(als, c.key) for c in Model.__table__.columns}
    newer = register_model(
        engine,
        Model(**{k: v for k, v in newer.items() if k not in ("version", "created_at")}),
        activate=False,
    )
    assert served_by(algorithm="als")[0] == newer.version
    assert posted_by(algorithm="als") == newer.version
    # ...but an active version of that ranker is the operator's choice and wins.
    client.post(f"/v1/models/{als.version}/activate", headers={"X-API-Key": KEY})
    try:
        assert served_by(algorithm="als")[0] == als.version
    finally:
        client.post(f"/v1/models/{lgbm.version}/activate", headers={"X-API-Key": KEY})

    class NeverTrained(PopularityRanker):
        name = "never_trained"

    monkeypatch.setitem(ranker_registry._RANKERS, NeverTrained.name, NeverTrained)
    untrained = client.get(url, params={"algorithm": "never_trained"})
    assert untrained.status_code == 404
    assert untrained.json()["detail"].startswith("algorithm: no version of 'never_trained'")
    unknown = client.get(url, params={"algorithm": "nope"})
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == [
        "query",
        "algorithm",
    ]
    assert "unknown ranker 'nope'" in unknown.json()["detail"][0]["msg"]
    both = client.get(url, params={"algorithm": "als", "model": als.version})
    assert both.status_code == 422 and "not both" in both.json()["detail"][0]["msg"]
    for extra in ({"algorithm": "nope"}, {"algorithm": "als", "model": als.version}):
        body = {"user_id": user, "candidates": ["1"], **extra}
        refused = client.post("/v1/rank", json=body)
        assert refused.status_code == 422
        assert refused.json()["detail"][0]["loc"] == ["body", "algorithm"]


def test_reads_need_a_key_only_when_protected(served, client) -> None:  # type: ignore[no-untyped-def]
    data, *_, app_settings = served
    user = data.interactions["user_id"].iloc[0]
    reads = [f"/v1/users/{user}/recommendations", "/v1/models", "/v1/monitoring/reports"]
    assert all(client.get(url).status_code == 200 for url in reads)  # open by default
    protected = app_settings.model_copy(update={"protect_reads": True})
    with TestClient(create_app(protected)) as c:
        for url in reads:
            assert c.get(url).status_code == 401, url
            assert c.get(url, headers={"X-API-Key": "wrong"}).status_code == 401, url
            assert c.get(url, headers={"X-API-Key": KEY}).status_code == 200, url
        assert c.post("/v1/rank", json={"user_id": user, "candidates": ["1"]}).status_code == 401
        assert c.get("/readyz").status_code == 200  # probes and scrapes stay open
        assert c.get("/metrics").status_code == 200
    with pytest.raises(ValueError, match="RECSYS_API_KEYS"):
        Settings(protect_reads=True, api_keys=[], _env_file=None)


def test_metrics_count_requests_per_route_and_model(served, client) -> None:  # type: ignore[no-untyped-def]
    data, _, lgbm, _ = served
    client.get(f"/v1/users/{data.interactions['user_id'].iloc[0]}/recommendations")
    client.get("/v1/users/never-seen/recommendations")
    assert client.get("/healthz").json() == {"status": "ok"}
    text_ = client.get("/metrics").text
    route = "/v1/users/{user_id}/recommendations"
    assert f'recsys_requests_total{{model="{lgbm.version}",route="{route}",status="200"}}' in text_
    assert 'recsys_fallbacks_total{reason="cold_start"} 1.0' in text_
    assert 'recsys_feature_fetch_seconds_count{feature_service="lightgbm_v1"}' in text_


def test_experiment_split_is_stable_and_shadows_are_logged(served, engine) -> None:  # type: ignore[no-untyped-def]
    data, als, lgbm, app_settings = served
    experiment = ExperimentConfig(
        weights={als.version: 0.5, lgbm.version: 0.5}, shadows=[als.version], salt="t1"
    )
    users = data.interactions["user_id"].unique()[:200].tolist()
    answers = {}
    with TestClient(create_app(app_settings.model_copy(update={"experiment": experiment}))) as c:
        for user in users:
            answers[user] = c.get(f"/v1/users/{user}/recommendations?k=5").json()
        assert (
            c.get(f"/v1/users/{users[0]}/recommendations").json()["model_version"]
            == (answers[users[0]]["model_version"])
        )
    for user, body in answers.items():
        expected = assign_version(user, experiment)
        assert body["model_version"] == expected and body["variant"] == f"v{expected}"
    share = np.mean([b["model_version"] == als.version for b in answers.values()])
    assert 0.38 < share < 0.62  # 200 users, p = 0.5: about 3.4 standard deviations
    lgbm_requests = [
        b["request_id"] for b in answers.values() if b["model_version"] == lgbm.version
    ]
    with engine.connect() as conn:
        shadows = conn.execute(
            text("SELECT count(*) FROM served_requests WHERE variant = 'shadow' "
                 "AND model_version = :v AND shadow_of = ANY(CAST(:ids AS uuid[]))"),
            {"v": als.version, "ids": lgbm_requests},
        ).scalar_one()  # fmt: skip
    assert shadows == len(lgbm_requests)  # shadowed, logged, never served


def test_online_features_are_in_the_store_and_spread_over_a_cluster(served) -> None:  # type: ignore[no-untyped-def]
    settings = served[3]
    client = connect_redis(resolve_endpoints(settings))
    if settings.redis_cluster:
        per_primary = [client.get_redis_connection(n).dbsize() for n in client.get_primaries()]
        assert len(per_primary) == 3 and min(per_primary) > 0, per_primary
    else:
        assert client.dbsize() > 0
