from pathlib import Path

import pytest
from sqlalchemy import delete, text

from recsys.data.loader import load_dataset
from recsys.data.synthetic import SyntheticConfig, generate_synthetic
from recsys.db.models import Model
from recsys.ranking import InteractionData, create_ranker
from recsys.serving.models import MAX_LOADED, ActiveModelHolder, UnknownModelError
from recsys.training.registry import (
    ArtifactError,
    CatalogueMismatchError,
    UnknownRankerError,
    activate,
    active_model,
    artifact_checksum,
    register_model,
    rollback,
)

pytestmark = pytest.mark.integration


CATALOGUE = SyntheticConfig(n_users=30, n_items=20)


def _register(
    engine, tmp_path: Path, algorithm: str, interactions=None, activate=True, started_at=None
) -> Model:  # type: ignore[no-untyped-def]
    data = generate_synthetic(CATALOGUE)
    ranker = create_ranker(algorithm, {"factors": 4} if algorithm == "als" else {})
    ranker.fit(
        InteractionData.from_frame(data.interactions if interactions is None else interactions)
    )
    directory = tmp_path / f"{algorithm}-{len(list(tmp_path.iterdir()))}"
    ranker.save(directory)
    row = Model(
        algorithm=algorithm, params={}, feature_service=ranker.feature_service,
        n_interactions=len(data.interactions), metrics={}, artifact_path=str(directory),
        artifact_sha256=artifact_checksum(directory),
    )  # fmt: skip
    return register_model(engine, row, activate=activate, started_at=started_at)


def _activate_behind_the_registrys_back(engine, version: int) -> None:  # type: ignore[no-untyped-def]
    """Make a version the active row directly, without ``activate``'s checks."""
    with engine.begin() as conn:
        conn.execute(Model.__table__.update().values(is_active=False))
        conn.execute(
            Model.__table__.update().where(Model.version == version).values(is_active=True)
        )


@pytest.fixture
def registry(engine):  # type: ignore[no-untyped-def]
    load_dataset(engine, generate_synthetic(CATALOGUE))  # the catalogue the versions are for
    with engine.begin() as conn:
        conn.execute(delete(Model))
    yield engine
    with engine.begin() as conn:
        conn.execute(delete(Model))


def test_newest_is_active_and_rollback_returns_to_the_previous(registry, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    first = _register(registry, tmp_path, "popularity")
    second = _register(registry, tmp_path, "als")
    assert active_model(registry).version == second.version
    assert rollback(registry).version == first.version
    assert active_model(registry).version == first.version
    activate(registry, second.version)
    assert rollback(registry).version == first.version  # back to the one active before


def test_a_training_does_not_undo_an_operators_choice_made_while_it_ran(
    registry, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """A rollback (or `models activate` of an older version) during a training is kept: the
    new version is registered inactive. Another training's version is replaced as usual."""
    older = _register(registry, tmp_path, "popularity")
    _register(registry, tmp_path, "popularity")  # the bad one, active
    with registry.connect() as conn:
        started = conn.execute(text("SELECT now()")).scalar_one()
    assert rollback(registry).version == older.version  # the operator, mid-training
    trained = _register(registry, tmp_path, "popularity", started_at=started)
    assert not trained.is_active and trained.activated_at is None
    assert active_model(registry).version == older.version
    # Once the operator's choice predates the training, newest is active again; and a version
    # another training registered meanwhile does not hold a later one back.
    with registry.connect() as conn:
        started = conn.execute(text("SELECT now()")).scalar_one()
    other = _register(registry, tmp_path, "popularity")
    assert other.is_active
    newest = _register(registry, tmp_path, "popularity", started_at=started)
    assert newest.is_active and active_model(registry).version == newest.version


def test_a_rollback_to_a_broken_version_names_the_others(registry, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """It does not skip to an older version on its own (that could be months old), but says
    which versions were active before, and how to choose one."""
    oldest = _register(registry, tmp_path, "popularity")
    broken = _register(registry, tmp_path, "popularity")
    _register(registry, tmp_path, "popularity")  # active
    (Path(broken.artifact_path) / "ranker.json").unlink()
    with pytest.raises(ArtifactError) as refused:
        rollback(registry)
    assert str(refused.value) == (
        f"cannot roll back: model version {broken.version}: artifact file ranker.json is "
        "missing; activate another version with `recsys models activate N` (active before "
        f"it: {oldest.version})"
    )


def test_a_version_whose_ranker_is_not_installed_is_refused(registry, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """E.g. another package's ranker, uninstalled: activation used to accept it, and every API
    replica started afterwards answered 503."""
    good = _register(registry, tmp_path, "popularity")
    gone = _register(registry, tmp_path, "popularity")
    with registry.begin() as conn:
        conn.execute(
            Model.__table__.update().where(Model.version == gone.version).values(algorithm="gone")
        )
    activate(registry, good.version)
    with pytest.raises(UnknownRankerError, match="unknown ranker 'gone'.*install the package"):
        activate(registry, gone.version)
    assert active_model(registry).version == good.version

    holder = ActiveModelHolder(registry, refresh_seconds=0)
    assert holder.get().version == good.version
    _activate_behind_the_registrys_back(registry, gone.version)  # still not served
    assert holder.get().version == good.version
    assert "unknown ranker 'gone'" in (holder.last_error or "")
    assert f"once fixed, `recsys models activate {gone.version}` serves it" in holder.last_error


def test_corrupt_artifact_is_refused_and_the_previous_version_keeps_serving(
    registry, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    good = _register(registry, tmp_path, "popularity")
    holder = ActiveModelHolder(registry, refresh_seconds=0)
    assert holder.get().version == good.version

    bad = _register(
        registry,
        tmp_path,
        "als",
    )
    activate(registry, good.version)
    with (Path(bad.artifact_path) / "ranker.npz").open("r+b") as fh:
        fh.seek(100)
        fh.write(b"garbage")
    with pytest.raises(ArtifactError, match="does not match its checksum"):
        activate(registry, bad.version)
    assert active_model(registry).version == good.version

    # Even if the registry row is switched behind its back, the holder refuses the corrupt one.
    _activate_behind_the_registrys_back(registry, bad.version)
    assert holder.get().version == good.version
    assert "checksum" in (holder.last_error or "")

    (Path(bad.artifact_path) / "ranker.npz").unlink()
    with pytest.raises(
        ArtifactError, match=f"version {bad.version}: artifact file ranker.npz is missing"
    ) as missing:
        activate(registry, bad.version)
    # The message reaches API clients (409): the path is kept apart, for the operator's CLI.
    assert bad.artifact_path not in str(missing.value)
    assert missing.value.path == Path(bad.artifact_path)


def test_a_version_trained_on_another_catalogue_is_refused(registry, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    good = _register(registry, tmp_path, "popularity")
    elsewhere = generate_synthetic(CATALOGUE).interactions
    elsewhere = elsewhere.assign(item_id="other-" + elsewhere["item_id"].astype(str))
    stranger = _register(registry, tmp_path, "popularity", elsewhere)
    activate(registry, good.version)
    with pytest.raises(CatalogueMismatchError, match="only 0 of its 20 items"):
        activate(registry, stranger.version)
    assert active_model(registry).version == good.version

    holder = ActiveModelHolder(registry, refresh_seconds=0)
    assert holder.get().version == good.version
    _activate_behind_the_registrys_back(registry, stranger.version)  # still not served
    assert holder.get().version == good.version
    assert "another catalogue" in (holder.last_error or "")


def test_a_version_that_failed_to_load_is_not_retried_until_the_retry_period_ends(  # type: ignore[no-untyped-def]
    registry, tmp_path: Path
) -> None:
    import time

    from recsys.serving.models import ModelLoadError

    version = _register(registry, tmp_path, "popularity")
    _register(registry, tmp_path, "popularity")  # the active one
    artifact = Path(version.artifact_path) / "ranker.json"
    intact = artifact.read_bytes()
    artifact.write_bytes(intact + b" ")
    holder = ActiveModelHolder(registry, refresh_seconds=2)
    with pytest.raises(ModelLoadError, match="checksum"):
        holder.version(version.version)
    artifact.write_bytes(intact)  # repaired, but within the retry period: the same answer
    with pytest.raises(ModelLoadError, match="checksum"):
        holder.version(version.version)
    assert "checksum" in holder.version_errors()[version.version]
    time.sleep(2.2)
    assert holder.version(version.version).version == version.version
    assert version.version not in holder.version_errors()


def test_a_ranker_asked_for_by_name_follows_its_newest_version_and_lets_old_ones_go(
    registry, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """`algorithm=` serves each new version of a ranker as it is trained; the versions it
    served before are dropped from memory once more than MAX_LOADED are kept."""
    active = _register(registry, tmp_path, "als")
    holder = ActiveModelHolder(registry, refresh_seconds=0)
    with pytest.raises(UnknownModelError, match="no version of 'popularity' is trained"):
        holder.version_of("popularity")
    trained = []
    for _ in range(MAX_LOADED + 2):
        trained.append(_register(registry, tmp_path, "popularity", activate=False).version)
        assert holder.version_of("popularity") == trained[-1]
        assert holder.version(trained[-1]).algorithm == "popularity"
    assert holder.version_of("als") == active.version
    loaded = {m.version for m in holder.loaded()}
    assert loaded == {active.version, *trained[-MAX_LOADED:]}
