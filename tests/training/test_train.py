"""`recsys train`: what a failed training leaves behind, and which FeatureService a version
records (real Postgres, Redis and Feast)."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, func, insert, select

from recsys.data.synthetic import SyntheticConfig, generate_synthetic
from recsys.db.models import Interaction, Model
from recsys.ranking import registry
from recsys.ranking.popularity import PopularityRanker
from recsys.training import train
from recsys.training.feast_features import FeatureServiceMissingError

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def served(serve_dataset):  # type: ignore[no-untyped-def]
    data = generate_synthetic(SyntheticConfig(n_users=40, n_items=30))
    serve_dataset(data)
    return data


def _versions(engine) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(Model)))


def _artifacts(settings) -> set[Path]:  # type: ignore[no-untyped-def]
    return set(settings.models_dir.iterdir()) if settings.models_dir.exists() else set()


def test_a_training_that_fails_after_saving_leaves_no_artifact_and_no_version(  # type: ignore[no-untyped-def]
    served, settings, engine, feature_store, monkeypatch: pytest.MonkeyPatch
) -> None:
    before, versions = _artifacts(settings), _versions(engine)

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("the feature store went away while building the reference")

    monkeypatch.setattr(train, "build_reference", broken)
    with pytest.raises(RuntimeError, match="went away"):
        train.train_model(settings, engine, feature_store, "popularity", activate=False)
    assert _artifacts(settings) == before and _versions(engine) == versions


def test_a_ranker_reading_store_features_needs_its_own_feature_service(  # type: ignore[no-untyped-def]
    served, settings, engine, feature_store
) -> None:
    class Needy(PopularityRanker):
        name = "needy"
        uses_store_features = True

    registry.register(Needy)
    try:
        before, versions = _artifacts(settings), _versions(engine)
        with pytest.raises(FeatureServiceMissingError, match="'needy_v1'.*feature_repo/services"):
            train.train_model(settings, engine, feature_store, "needy", activate=False)
        assert _artifacts(settings) == before and _versions(engine) == versions
    finally:
        registry._RANKERS.pop("needy", None)


def test_a_built_in_ranker_records_its_own_feature_service(  # type: ignore[no-untyped-def]
    served, settings, engine, feature_store
) -> None:
    row = train.train_model(settings, engine, feature_store, "popularity", activate=False)
    assert row.feature_service == "popularity_v1"


def test_an_event_dated_ahead_of_the_clock_waits_for_a_later_training(  # type: ignore[no-untyped-def]
    served, settings, engine, feature_store
) -> None:
    """The API accepts events dated up to a day ahead (client clocks run fast). The feature
    build leaves them out until their time; so does training, whose data window ended
    tomorrow."""
    user, item = served.interactions[["user_id", "item_id"]].iloc[0]
    ahead = datetime.now(UTC) + timedelta(hours=12)
    with engine.begin() as conn:
        inserted = conn.execute(
            insert(Interaction)
            .values(user_id=str(user), item_id=str(item), rating=None, occurred_at=ahead)
            .returning(Interaction.id)
        ).scalar_one()
    try:
        row = train.train_model(
            settings, engine, feature_store, "popularity", activate=False, holdout=0
        )
        assert row.train_end < datetime.now(UTC)
        assert row.n_interactions == len(served.interactions)
    finally:
        with engine.begin() as conn:
            conn.execute(delete(Interaction).where(Interaction.id == inserted))


def test_a_rollback_during_training_is_kept_and_the_cli_says_so(  # type: ignore[no-untyped-def]
    served, settings, engine, feature_store, cli_env, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from recsys.cli import app
    from recsys.training.registry import active_model, rollback

    older = train.train_model(settings, engine, feature_store, "popularity", holdout=0)
    train.train_model(settings, engine, feature_store, "popularity", holdout=0)  # active
    build_reference = train.build_reference

    def operator_rolls_back_meanwhile(*args, **kwargs):  # type: ignore[no-untyped-def]
        rollback(engine)
        return build_reference(*args, **kwargs)

    monkeypatch.setattr(train, "build_reference", operator_rolls_back_meanwhile)
    result = CliRunner().invoke(app, ["train", "--model", "popularity", "--holdout", "0"])
    assert result.exit_code == 0, result.output
    assert active_model(engine).version == older.version
    assert "not activated: another version was activated while this one trained" in " ".join(
        result.output.split()
    )
