"""The simulator against the real API and stores, and the weekly report's two verdicts: a clean
replay raises no alert; a replay with a shifted population and a corrupted feature does, naming
the drifted columns."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.app import create_app
from monitoring.simulate import simulate
from monitoring.weekly import Week, build_weekly_report
from recsys.data.schema import Dataset
from recsys.data.synthetic import SyntheticConfig, generate_synthetic
from recsys.evaluation.splits import temporal_split
from recsys.training.train import train_model

pytestmark = [pytest.mark.integration, pytest.mark.slow]
REQUESTS = 400


@pytest.fixture(scope="module")
def trained(settings, engine, feature_store, serve_dataset):  # type: ignore[no-untyped-def]
    data = generate_synthetic(SyntheticConfig(n_users=500, n_items=300, seed=31))
    train, heldout = temporal_split(data.interactions, test_ratio=0.2)
    serve_dataset(Dataset(data.name, data.users, data.items, train))
    app_settings = settings.model_copy(update={"reference_users": 400})
    train_model(app_settings, engine, feature_store, "als", {"factors": 16})
    return train, heldout, app_settings


def _replay(trained, engine, feature_store, drift: tuple[str, ...]):  # type: ignore[no-untyped-def]
    train, heldout, app_settings = trained
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE served_requests, events, weekly_reports"))
    with TestClient(create_app(app_settings)) as client:
        result = simulate(
            client, heldout, activity=train["user_id"].value_counts(), requests=REQUESTS,
            drift=drift, store=feature_store, seed=1,
        )  # fmt: skip
    assert result.requests == REQUESTS and result.errors == 0 and result.clicks > 0
    return build_weekly_report(app_settings, engine, Week.last_full().next())


def test_a_clean_week_raises_no_alert(trained, engine, feature_store) -> None:  # type: ignore[no-untyped-def]
    report = _replay(trained, engine, feature_store, ())
    assert report.requests == REQUESTS and report.quality["hit_rate"] > 0
    assert not report.alert, report.alert_reasons
    assert report.drift_share is not None and report.drift_share < 0.3


def test_a_drifted_week_raises_an_alert_naming_the_columns(trained, engine, feature_store) -> None:  # type: ignore[no-untyped-def]
    report = _replay(trained, engine, feature_store, ("users", "feature"))
    assert report.alert
    assert "user_stats__mean_rating" in report.drifted_columns
    assert "user_stats__interaction_count" in report.drifted_columns
    reason = next(r for r in report.alert_reasons if r.startswith("feature drift"))
    assert "user_stats__mean_rating" in reason


def test_cli_refuses_a_heldout_file_without_user_and_item(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from recsys.cli import app

    bad = tmp_path / "heldout.csv"
    bad.write_text("who,what\n1,2\n")
    result = CliRunner().invoke(app, ["simulate", "--heldout", str(bad)])
    assert result.exit_code == 1 and "user_id and item_id" in result.output
