"""`recsys train`: what a failed training leaves behind, and which FeatureService a version
records (real Postgres, Redis and Feast)."""

from pathlib import Path

import pytest
from sqlalchemy import func, select

from recsys.data.synthetic import SyntheticConfig, generate_synthetic
from recsys.db.models import Model
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
