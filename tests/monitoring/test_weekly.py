"""The weekly report on real stores: requests served over HTTP, clicks attributed to them through
`POST /v1/events`, the report's numbers, a rebuild that replaces rather than duplicates, and the
week-over-week alert."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from api.app import create_app
from monitoring.weekly import Week, build_weekly_report
from recsys.data.synthetic import SyntheticConfig, generate_synthetic
from recsys.db.models import ServedRequest, WeeklyReport
from recsys.training.train import train_model

pytestmark = [pytest.mark.integration, pytest.mark.slow]
REQUESTS, CLICKED, K = 60, 20, 10


@pytest.fixture(scope="module")
def week_served(settings, engine, feature_store, serve_dataset):  # type: ignore[no-untyped-def]
    data = generate_synthetic(SyntheticConfig(n_users=300, n_items=400, seed=21))
    serve_dataset(data)
    train_model(settings, engine, feature_store, "als", {"factors": 16})
    with engine.begin() as conn:  # this module's week starts empty (a scratch database)
        conn.execute(text("TRUNCATE served_requests, events, weekly_reports"))
    users = data.interactions["user_id"].unique()[:REQUESTS].tolist()
    with TestClient(create_app(settings)) as client:
        answers = [client.get(f"/v1/users/{u}/recommendations?k={K}").json() for u in users]
        events = []
        for body in answers[:CLICKED]:  # a click on the top item of the first 20 lists
            top = body["items"][0]["item_id"]
            events.append({"event_id": str(uuid.uuid4()), "user_id": body["user_id"],
                           "item_id": top, "event_type": "click",
                           "request_id": body["request_id"]})  # fmt: skip
        for body in answers[CLICKED : CLICKED + 5]:  # views are not positive feedback
            events.append({"event_id": str(uuid.uuid4()), "user_id": body["user_id"],
                           "item_id": body["items"][0]["item_id"], "event_type": "view",
                           "request_id": body["request_id"]})  # fmt: skip
        assert client.post("/v1/events", json={"events": events}).status_code == 202
    year, number, _ = datetime.now(UTC).isocalendar()
    return Week.parse(f"{year}-W{number:02d}")


def test_weekly_report_numbers_and_files(week_served, settings, engine) -> None:  # type: ignore[no-untyped-def]
    report = build_weekly_report(settings, engine, week_served)
    assert report.requests == REQUESTS and report.feedback_events == CLICKED
    share = CLICKED / REQUESTS  # every click is on rank 1 of its list
    assert report.quality["hit_rate"] == pytest.approx(share)
    assert report.quality["ctr"] == pytest.approx(CLICKED / (REQUESTS * K))
    assert report.quality["ndcg"] == pytest.approx(share)
    assert report.quality["mrr"] == pytest.approx(share)
    assert 0 < report.distribution["coverage"] <= 1
    assert 0 < report.distribution["personalization"] <= 1
    assert report.drift_share is not None and report.columns
    assert Path(report.html_path).stat().st_size > 10_000 and Path(report.json_path).is_file()
    assert report.changes == {}  # no previous week
    # this week is not over: the page says when its last request was served (not when it was built)
    assert "not over: the last request was served at" in Path(report.html_path).read_text()

    from evidently.core.report import Snapshot
    from evidently.ui.workspace import Workspace

    def workspace_runs() -> set[str]:
        workspace = Workspace.create(str(settings.reports_dir / "workspace"))
        project = workspace.search_project("recsys weekly")[0]
        return {str(r) for r in workspace.list_runs(project.id)}

    before = workspace_runs()
    assert set(report.workspace_runs) <= before and len(report.workspace_runs) == 2

    again = build_weekly_report(settings, engine, week_served)
    with Session(engine) as session:
        rows = session.scalar(
            select(func.count())
            .select_from(WeeklyReport)
            .where(WeeklyReport.week == week_served.name)
        )
    assert rows == 1 and again.quality == report.quality
    page = Path(again.html_path).read_text()
    assert f"Weekly report {week_served.name}" in page and "srcdoc" in page
    # quality and drift in one embedded Evidently document: its 3.6 MB bundle once, not twice
    assert page.count("@font-face") == 1 and page.count("<iframe") == 1
    assert "Online quality" in page and "Feature and score drift" in page
    folder = Path(again.html_path).parent
    assert sorted(p.name for p in folder.iterdir()) == ["drift.json", "quality.json", "report.html"]
    assert Snapshot.load(str(Path(again.html_path).parent / "quality.json")) is not None
    after = workspace_runs()  # the week's runs were replaced, not added to
    assert len(after) == len(before) and set(again.workspace_runs) <= after
    assert not set(report.workspace_runs) & after


def test_a_rebuild_that_fails_leaves_the_last_build_whole(
    week_served, settings, engine, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """The week's row is locked, so the rebuild fails at its last step (the commit): the page,
    drift files, row and workspace runs are the last build's, and nothing of its own is left
    (an audit saw new drift files beside the old page, and duplicate runs after the retry)."""
    from evidently.ui.workspace import Workspace
    from sqlalchemy import create_engine
    from sqlalchemy.exc import OperationalError

    def workspace_runs() -> set[str]:
        workspace = Workspace.create(str(settings.reports_dir / "workspace"))
        return {
            str(r) for r in workspace.list_runs(workspace.search_project("recsys weekly")[0].id)
        }

    last = build_weekly_report(settings, engine, week_served)
    folder = Path(last.html_path).parent
    files = {p.name: p.read_bytes() for p in folder.iterdir()}
    runs = workspace_runs()
    impatient = create_engine(
        engine.url, connect_args={"options": "-c lock_timeout=500"}
    )  # fmt: skip
    try:
        with engine.connect() as holder, holder.begin():
            holder.execute(
                text("SELECT id FROM weekly_reports WHERE week = :w FOR UPDATE"),
                {"w": week_served.name},
            )
            with pytest.raises(OperationalError, match="lock"):
                build_weekly_report(settings, impatient, week_served)
    finally:
        impatient.dispose()
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == files
    assert [p.name for p in folder.parent.iterdir() if p.name.startswith(".")] == []
    assert workspace_runs() == runs
    with Session(engine) as session:
        row = session.scalar(select(WeeklyReport).where(WeeklyReport.week == week_served.name))
    assert row is not None and row.workspace_runs == last.workspace_runs
    retried = build_weekly_report(settings, engine, week_served)  # and a retry just works
    assert len(workspace_runs()) == len(runs) and Path(retried.html_path).is_file()

    # A failure between the week's two workspace runs (review: the first was left orphaned).
    workspace_class = type(Workspace.create(str(settings.reports_dir / "workspace")))
    real_add_run = workspace_class.add_run
    calls = []

    def add_run_then_fail(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk full")
        return real_add_run(self, *args, **kwargs)

    runs = workspace_runs()
    monkeypatch.setattr(workspace_class, "add_run", add_run_then_fail)
    with pytest.raises(OSError, match="disk full"):
        build_weekly_report(settings, engine, week_served)
    monkeypatch.undo()
    assert len(calls) == 2 and workspace_runs() == runs


def _last_week_was_better(engine, week: Week, requests: int, statistics=None) -> None:  # type: ignore[no-untyped-def]
    """The week before ``week``: a summary row (replacing any) with far better quality."""
    previous = week.previous()
    with Session(engine) as session, session.begin():
        session.execute(delete(WeeklyReport).where(WeeklyReport.week == previous.name))
        session.add(
            WeeklyReport(
                week=previous.name, period_start=previous.start, period_end=previous.end,
                requests=requests, feedback_events=requests // 2, drift_share=0.0,
                drifted_columns=[], columns={},
                quality={"ctr": 0.2, "hit_rate": 0.9, "ndcg": 0.9, "mrr": 0.9},
                distribution={}, changes={}, alert=False, alert_reasons=[],
                drop_statistics=statistics,
            )
        )  # fmt: skip


def test_a_quality_drop_against_last_week_raises_an_alert(week_served, settings, engine) -> None:  # type: ignore[no-untyped-def]
    _last_week_was_better(engine, week_served, requests=100)
    report = build_weekly_report(settings, engine, week_served)
    assert report.alert
    assert report.changes["quality.ctr"] == pytest.approx((CLICKED / (REQUESTS * K)) / 0.2 - 1)
    assert any(r.startswith("quality.ctr fell") for r in report.alert_reasons)
    assert any(r.startswith("quality.ndcg fell") for r in report.alert_reasons)


def test_a_quality_drop_against_a_week_of_one_request_is_noise_not_an_alert(  # type: ignore[no-untyped-def]
    week_served, settings, engine
) -> None:
    """The same fall as above, against a previous week of a single request: within noise."""
    _last_week_was_better(engine, week_served, requests=1)
    try:
        report = build_weekly_report(settings, engine, week_served)
    finally:  # the CLI test below expects last week's row of 100 requests back
        _last_week_was_better(engine, week_served, requests=100)
    assert report.changes["quality.ctr"] < -0.2  # over the alert fraction...
    assert not any(r.startswith("quality.") for r in report.alert_reasons)  # ...but noise
    assert any(n.startswith("quality.ctr fell") and "not an alert" in n for n in report.notes)


def test_a_drop_carried_by_a_few_users_is_noise_not_an_alert(  # type: ignore[no-untyped-def]
    week_served, settings, engine
) -> None:
    """The fall that alerts above, with the week's 60 requests all made by one user: they rise
    and fall with that user's taste, so the week is worth one draw, not sixty."""
    _last_week_was_better(engine, week_served, requests=100)
    period = {"start": week_served.start, "end": week_served.end}
    with engine.begin() as conn:
        owners = conn.execute(
            text("SELECT request_id, user_id FROM served_requests "
                 "WHERE served_at >= :start AND served_at < :end"), period,
        ).all()  # fmt: skip
        conn.execute(
            text("UPDATE served_requests SET user_id = 'heavy' "
                 "WHERE served_at >= :start AND served_at < :end"), period,
        )  # fmt: skip
    try:
        report = build_weekly_report(settings, engine, week_served)
    finally:
        with engine.begin() as conn:
            for request_id, user_id in owners:
                conn.execute(
                    text("UPDATE served_requests SET user_id = :u WHERE request_id = :r"),
                    {"u": user_id, "r": request_id},
                )
    assert report.drop_statistics["ndcg"]["users"] == 1 and report.drop_statistics["ndcg"]["n"] == 1
    assert report.changes["quality.ndcg"] < -0.2  # the same fall as the alert above...
    assert not any(r.startswith("quality.") for r in report.alert_reasons)  # ...now noise
    assert any("1 effective users and 100 requests" in n for n in report.notes), report.notes
    rebuilt = build_weekly_report(settings, engine, week_served)  # the owners are back
    assert rebuilt.drop_statistics["ndcg"]["users"] == REQUESTS and rebuilt.alert


def test_weeks_of_enough_users_are_compared_by_how_their_users_spread(  # type: ignore[no-untyped-def]
    week_served, settings, engine
) -> None:
    """Last week had 100 users: the fall is measured against each week's estimated variance.
    Users who spread widely last week make this week's fall noise; users who agreed do not."""
    wide = {m: {"variance": 0.2, "users": 100, "n": 100.0} for m in ("ctr", "ndcg", "hit_rate")}
    narrow = {m: {"variance": 1e-4, "users": 100, "n": 100.0} for m in ("ctr", "ndcg", "hit_rate")}
    try:
        _last_week_was_better(engine, week_served, requests=100, statistics=wide)
        noisy = build_weekly_report(settings, engine, week_served)
        _last_week_was_better(engine, week_served, requests=100, statistics=narrow)
        clear = build_weekly_report(settings, engine, week_served)
    finally:
        _last_week_was_better(engine, week_served, requests=100)
    assert not any(r.startswith("quality.") for r in noisy.alert_reasons)
    assert any(f"how {REQUESTS} and 100 users' numbers spread" in n for n in noisy.notes)
    assert any(r.startswith("quality.ndcg fell") for r in clear.alert_reasons)


def test_drop_p_values() -> None:
    from monitoring.quality_drop import drop_p_value

    assert drop_p_value(0.2, 100, 0.2 / 6, 60) < 0.01  # the week above against 100 requests
    assert drop_p_value(0.2, 1, 0.2 / 6, 60) > 0.1  # ... against one
    assert drop_p_value(0.5, 1_000, 0.5, 1_000) == pytest.approx(0.5)
    assert drop_p_value(0.5, 0, 0.1, 10) == 1.0


def test_an_unreadable_reference_is_reported_and_alerted_not_fatal(  # type: ignore[no-untyped-def]
    week_served, settings, engine
) -> None:
    from monitoring.drift import ReferenceUnavailableError, build_drift_report

    with engine.connect() as conn:  # the version the week's answers came from
        version, path = conn.execute(
            text("SELECT m.version, m.reference_path FROM models m WHERE m.version = "
                 "(SELECT model_version FROM served_requests WHERE NOT fallback "
                 "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1)")
        ).one()  # fmt: skip
    reference = Path(path)
    intact = reference.read_bytes()
    reference.write_bytes(intact[: len(intact) // 2])  # a half-written copy
    try:
        report = build_weekly_report(settings, engine, week_served)
        assert report.requests == REQUESTS and report.quality["hit_rate"] > 0  # the rest stands
        assert report.drift_share is None and report.alert
        why = f"feature drift not computed: model version {version}: drift reference"
        assert any(r.startswith(why) and "cannot be read" in r for r in report.alert_reasons)
        assert "cannot be read" in Path(report.html_path).read_text()
        with pytest.raises(ReferenceUnavailableError, match="cannot be read"):
            build_drift_report(settings, engine, week_served.start, week_served.end)
    finally:
        reference.write_bytes(intact)


def test_week_names() -> None:
    week = Week.parse("2026-W01")
    assert week.start == datetime(2025, 12, 29, tzinfo=UTC) and week.previous().name == "2025-W52"
    assert Week.last_full(datetime(2026, 11, 29, tzinfo=UTC)).name == "2026-W47"
    for bad in ("2026-47", "2026-W49\n", "\uff12\uff10\uff12\uff16-W49", "", " 2026-W49"):
        with pytest.raises(ValueError, match="must look like 2026-W47"):
            Week.parse(bad)  # a newline, full-width digits, nothing: each was taken once
    with pytest.raises(ValueError, match="9999-W52 is not an ISO week that can be reported on"):
        Week.parse("9999-W52")  # its end overflowed datetime


def test_cli_prints_the_week_and_fails_on_alert(week_served, cli_env, engine) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from recsys.cli import app

    runner = CliRunner()
    shown = runner.invoke(app, ["monitor", "weekly", "--week", week_served.name])
    assert shown.exit_code == 0, shown.output
    assert week_served.name in shown.output and "quality.ndcg" in shown.output
    with Session(engine) as session:
        report = session.scalar(select(WeeklyReport).where(WeeklyReport.week == week_served.name))
    assert report is not None and report.notes  # 60 requests: at least the small-sample note
    for note in report.notes:  # what qualifies the numbers is printed beside them
        assert note[:40] in " ".join(shown.output.split()), (note, shown.output)
    # the previous test left last week's better numbers: the alert fails the job when asked
    failed = runner.invoke(
        app, ["monitor", "weekly", "--week", week_served.name, "--fail-on-drift"]
    )
    assert failed.exit_code == 2 and "alert:" in failed.output
    bad = runner.invoke(app, ["monitor", "weekly", "--week", "2026-47"])
    assert bad.exit_code == 1 and "2026-W47" in bad.output


def test_the_api_lists_reports_and_serves_their_html(week_served, settings, engine) -> None:  # type: ignore[no-untyped-def]
    report = build_weekly_report(settings, engine, week_served)
    with TestClient(create_app(settings)) as client:
        listed = client.get("/v1/monitoring/reports").json()
        mine = next(r for r in listed if r["week"] == week_served.name)
        assert mine["id"] == report.id and mine["has_html"] and mine["requests"] == REQUESTS
        assert mine["notes"] == report.notes and mine["drift_requests"] == report.drift_requests
        html = client.get(f"/v1/monitoring/reports/{report.id}")
        assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
        assert len(html.content) > 10_000
        missing = client.get("/v1/monitoring/reports/999999")
        assert missing.status_code == 404 and "report_id" in missing.json()["detail"]
    # the API process never imported Evidently (it costs seconds and hundreds of MB)
    import subprocess
    import sys

    probe = (
        "import sys; from api.app import create_app; create_app(); "
        "import api.routes.monitoring; print('evidently' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_week_without_traffic_after_traffic_is_reported_and_alerted(  # type: ignore[no-untyped-def]
    week_served, settings, engine, cli_env
) -> None:
    """Traffic that stops (or a serve log no longer written) is a week in the list with an
    alert, not a gap; before anything was ever served there is nothing to watch yet."""
    from typer.testing import CliRunner

    from monitoring.drift import NoServedDataError
    from recsys.cli import app

    quiet_week, ahead = week_served.previous().previous(), week_served.next()
    with pytest.raises(NoServedDataError, match="nor before it"):
        build_weekly_report(settings, engine, quiet_week)
    served_once = {
        "request_id": uuid.uuid4(), "served_at": quiet_week.start - timedelta(days=3),
        "user_id": "u1", "algorithm": "popularity", "fallback": True, "k": 1,
        "items": ["i1"], "scores": [1.0], "latency_ms": 1.0,
    }  # fmt: skip
    with engine.begin() as conn:  # the API answered one request the week before, then nothing
        conn.execute(insert(ServedRequest).values(served_once))
    try:
        report = build_weekly_report(settings, engine, quiet_week)
        assert report.requests == 0 and report.alert and report.quality == {}
        assert report.alert_reasons == [
            f"nothing was served in {quiet_week.name}: no request reached the API, or its "
            "serve log was not written"
        ]
        page = Path(report.html_path).read_text()
        assert "<b>Alert</b>" in page and "no request reached the API" in page
        assert [p.name for p in Path(report.html_path).parent.iterdir()] == ["report.html"]
        shown = CliRunner().invoke(
            app, ["monitor", "weekly", "--week", quiet_week.name, "--fail-on-drift"]
        )
        assert shown.exit_code == 2 and "0 requests, nothing served" in shown.output
        with Session(engine) as session:
            rows = session.scalars(
                select(WeeklyReport).where(WeeklyReport.week == quiet_week.name)
            ).all()
        assert [r.id for r in rows] == [report.id]  # the CLI's rebuild replaced it
        # a week yet to come is refused, not a row at the top of the list
        with pytest.raises(NoServedDataError, match=f"{ahead.name} has not started yet"):
            build_weekly_report(settings, engine, ahead)
    finally:
        with engine.begin() as conn:
            conn.execute(
                delete(ServedRequest).where(ServedRequest.request_id == served_once["request_id"])
            )
            conn.execute(
                delete(WeeklyReport).where(WeeklyReport.week.in_([quiet_week.name, ahead.name]))
            )


def test_the_current_week_without_traffic_yet_is_a_note_not_an_alert(  # type: ignore[no-untyped-def]
    week_served, settings, engine
) -> None:
    """A week still running that has served nothing yet may simply be early: the row and page
    say so, and nobody is alerted (once the week is over, the test above alerts)."""
    with engine.connect() as conn:  # this week's traffic, moved two weeks back for the test
        ids = (
            conn.execute(
                select(ServedRequest.request_id).where(ServedRequest.served_at >= week_served.start)
            )
            .scalars()
            .all()
        )
    assert ids
    shift = timedelta(days=14)

    def move(by: timedelta) -> None:
        with engine.begin() as conn:
            conn.execute(
                update(ServedRequest)
                .where(ServedRequest.request_id.in_(ids))
                .values(served_at=ServedRequest.served_at + by)
            )

    move(-shift)
    try:
        report = build_weekly_report(settings, engine, week_served)
        assert report.requests == 0 and not report.alert and report.alert_reasons == []
        page = Path(report.html_path).read_text()
        assert f"nothing was served in {week_served.name} so far (the week is not over)" in page
        assert "<b>Alert</b>" not in page
    finally:
        move(shift)
        with engine.begin() as conn:
            conn.execute(delete(WeeklyReport).where(WeeklyReport.week == week_served.name))
