"""The weekly report's harder weeks, on real stores: a client asking for longer lists than the
drift reference holds, lists that served nothing, two model versions in one week, a rebuild
after the logged features went away, and a rebuild after more events came in. Each week's
requests are served over HTTP now and then moved into a past week (``served_at``), as a week of
real traffic would have been logged."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.app import create_app
from monitoring.weekly import Week, build_weekly_report
from recsys.data.synthetic import SyntheticConfig, generate_synthetic
from recsys.training.registry import activate
from recsys.training.train import train_model

pytestmark = [pytest.mark.integration, pytest.mark.slow]
USERS = 40


def _move_into(engine, week: Week, request_ids: list[str]) -> None:  # type: ignore[no-untyped-def]
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE served_requests SET served_at = :at WHERE request_id::text = ANY(:ids)"),
            {"at": week.start + timedelta(days=2), "ids": request_ids},
        )


@pytest.fixture(scope="module")
def traffic(settings, engine, feature_store, serve_dataset):  # type: ignore[no-untyped-def]
    """(users, the two model versions, a function serving requests into a past week)."""
    data = generate_synthetic(SyntheticConfig(n_users=200, n_items=300, seed=5))
    serve_dataset(data)
    first = train_model(settings, engine, feature_store, "als", {"factors": 8})
    second = train_model(settings, engine, feature_store, "als", {"factors": 16})
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE served_requests, events, weekly_reports"))
    users = data.interactions["user_id"].unique()[:USERS].tolist()
    app_settings = settings.model_copy(update={"model_refresh_seconds": 0})

    def serve(week: Week, paths: list[str]) -> list[dict]:
        with TestClient(create_app(app_settings)) as client:
            bodies = [client.get(path).json() for path in paths]
        _move_into(engine, week, [b["request_id"] for b in bodies])
        return bodies

    yield users, (first.version, second.version), serve
    activate(engine, second.version)


def _weeks_ago(n: int) -> Week:
    return Week.last_full(datetime.now(UTC) - timedelta(days=7 * n))


def test_longer_lists_than_the_reference_are_not_drift(traffic, settings, engine) -> None:  # type: ignore[no-untyped-def]
    users, _, serve = traffic
    top10, top30 = _weeks_ago(8), _weeks_ago(7)
    serve(top10, [f"/v1/users/{u}/recommendations?k=10" for u in users])
    serve(top30, [f"/v1/users/{u}/recommendations?k=30" for u in users])
    short = build_weekly_report(settings, engine, top10)
    long = build_weekly_report(settings, engine, top30)
    # The same users and model: their top 10 are the same rows, so the same verdicts. Compared
    # whole, ranks 11-30 (lower scores, other items) made every column drift.
    assert long.drift_requests == short.drift_requests == USERS
    assert long.columns == short.columns and long.drift_share == short.drift_share
    assert "rank" not in long.columns and not any(c.endswith("_ts") for c in long.columns)
    page = Path(long.html_path).read_text()
    assert f"{USERS} logged requests of v" in page and "top 10 rows each" in page
    assert "can show only large shifts" in page  # 40 requests: the page says the sample is small
    assert long.notes and any("can show only large shifts" in n for n in long.notes)


def test_an_empty_list_is_a_request_and_a_miss(traffic, settings, engine) -> None:  # type: ignore[no-untyped-def]
    users, _, serve = traffic
    week = _weeks_ago(6)
    bodies = serve(
        week,
        [f"/v1/users/{users[0]}/recommendations?k=10",
         f"/v1/users/{users[1]}/recommendations?k=10&genre=NoSuchGenre"],
    )  # fmt: skip
    assert bodies[1]["items"] == []
    top = bodies[0]["items"][0]["item_id"]
    event = {"event_id": str(uuid.uuid4()), "user_id": users[0], "item_id": top,
             "event_type": "click", "request_id": bodies[0]["request_id"]}  # fmt: skip
    with TestClient(create_app(settings)) as client:
        assert client.post("/v1/events", json={"events": [event]}).status_code == 202
    report = build_weekly_report(settings, engine, week)
    assert report.requests == 2  # was 1: the empty answer vanished from the report
    assert report.quality["hit_rate"] == pytest.approx(0.5)
    assert "1 of 2 requests" in Path(report.html_path).read_text()


def test_two_versions_in_a_week_are_named(traffic, settings, engine) -> None:  # type: ignore[no-untyped-def]
    users, (first, second), serve = traffic
    week = _weeks_ago(5)
    activate(engine, first)
    serve(week, [f"/v1/users/{u}/recommendations?k=10" for u in users[:10]])
    activate(engine, second)
    serve(week, [f"/v1/users/{u}/recommendations?k=10" for u in users[10:]])
    report = build_weekly_report(settings, engine, week)
    assert report.model_version == second and report.drift_requests == USERS - 10
    # A sample cap counts the version's own logged requests: cut before filtering, the first 15
    # by id mixed both versions and left fewer.
    capped = settings.model_copy(update={"monitor_drift_max_requests": 15})
    assert build_weekly_report(capped, engine, week).drift_requests == 15
    page = Path(report.html_path).read_text()
    assert f"v{second}: {USERS - 10}, v{first}: 10" in page
    assert f"2 model versions served this week; drift compares v{second} only" in page
    assert f"quality of v{second} ({USERS - 10} requests)" in page  # and each one's own numbers
    assert f"quality of v{first} (10 requests)" in page


def test_a_rebuild_keeps_its_id_and_drops_drift_it_can_no_longer_compute(  # type: ignore[no-untyped-def]
    traffic, settings, engine
) -> None:
    users, _, serve = traffic
    week = _weeks_ago(4)
    bodies = serve(week, [f"/v1/users/{u}/recommendations?k=10" for u in users[:20]])
    first = build_weekly_report(settings, engine, week)
    drift_file = Path(first.html_path).parent / "drift.json"
    assert first.drift_share is not None and drift_file.is_file()

    with engine.begin() as conn:  # the logged vectors are gone (e.g. a retention job)
        conn.execute(
            text(
                "UPDATE served_requests SET features = '{}'::jsonb "
                "WHERE request_id::text = ANY(:ids)"
            ),
            {"ids": [b["request_id"] for b in bodies]},
        )
    again = build_weekly_report(settings, engine, week)
    assert again.id == first.id  # links to the report keep working
    assert again.created_at > first.created_at  # and it says when this build was made
    assert again.drift_share is None and not drift_file.exists()
    page = Path(again.html_path).read_text()
    assert "No alert on what was computed" in page
    assert "feature drift was not computed: no served request had its feature vector logged" in page


def test_later_events_do_not_change_a_built_week(traffic, settings, engine) -> None:  # type: ignore[no-untyped-def]
    users, _, serve = traffic
    week = _weeks_ago(3)
    serve(week, [f"/v1/users/{u}/recommendations?k=10" for u in users[:20]])
    before = build_weekly_report(settings, engine, week)
    # A burst of interactions after the week, all on one item: the popularity the week's
    # novelty was measured against must not move.
    with engine.connect() as conn:
        item = conn.execute(text("SELECT item_id FROM items ORDER BY item_id LIMIT 1")).scalar()
    events = [
        {"event_id": str(uuid.uuid4()), "user_id": u, "item_id": item, "event_type": "click"}
        for u in users
    ]
    with TestClient(create_app(settings)) as client:
        assert client.post("/v1/events", json={"events": events}).status_code == 202
    after = build_weekly_report(settings, engine, week)
    assert after.distribution == before.distribution


def test_degraded_answers_are_counted_and_named(traffic, settings, engine) -> None:  # type: ignore[no-untyped-def]
    """Answers given while the online store was down lower the week's quality: the report says
    how many there were, beside the numbers (it did not mention them)."""
    users, _, serve = traffic
    week = _weeks_ago(9)
    bodies = serve(week, [f"/v1/users/{u}/recommendations?k=10" for u in users[:12]])
    with engine.begin() as conn:  # as if Redis had been down for the first five
        conn.execute(
            text("UPDATE served_requests SET degraded = true WHERE request_id::text = ANY(:ids)"),
            {"ids": [b["request_id"] for b in bodies[:5]]},
        )
    report = build_weekly_report(settings, engine, week)
    assert any(n.startswith("5 of 12 requests were answered degraded") for n in report.notes), (
        report.notes
    )
    assert "0 cold-start fallback, 5 degraded" in Path(report.html_path).read_text()
