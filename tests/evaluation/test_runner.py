"""`recsys evaluate` on real stores: the production path, and results anyone can recompute."""

import json
import platform
from pathlib import Path

import lightgbm
import pandas as pd
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from recsys.cli import app
from recsys.evaluation.metrics import ndcg_at_k
from recsys.evaluation.runner import (
    EvaluationSpec,
    evaluation_endpoints,
    hold_evaluation_lock,
    run_evaluation,
    split_data,
)
from recsys.infra.database import create_db_engine

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def report(settings, test_endpoints):  # type: ignore[no-untyped-def]
    spec = EvaluationSpec(dataset="synthetic", protocol="temporal", test_ratio=0.2, k=10,
                          algorithms=("popularity", "als"))  # fmt: skip
    return run_evaluation(spec, settings, test_endpoints)


def test_every_algorithm_is_scored_on_the_same_users(report) -> None:  # type: ignore[no-untyped-def]
    assert [r.algorithm for r in report.results] == ["popularity", "als"]
    assert report.test_users > 100 and report.test_rows > report.test_users
    for result in report.results:
        assert result.users == report.test_users
        assert set(result.metrics) == {
            "ndcg", "precision", "recall", "map", "mrr", "hit_rate", "coverage", "novelty",
        }  # fmt: skip
        assert 0 < result.metrics["ndcg"] < 1 and result.fit_seconds >= 0
    by_name = {r.algorithm: r.metrics for r in report.results}
    # The synthetic users have tastes: the tuned personalised model beats most-popular.
    assert by_name["als"]["ndcg"] > by_name["popularity"]["ndcg"]


def test_it_ran_on_the_evaluation_database_not_the_app_one(report, test_endpoints) -> None:  # type: ignore[no-untyped-def]
    engine = create_db_engine(test_endpoints.with_database(f"{test_endpoints.pg_database}_eval"))
    try:
        with engine.connect() as conn:
            train_rows = conn.execute(text("SELECT count(*) FROM interactions")).scalar_one()
            latest = conn.execute(text("SELECT max(event_timestamp) FROM user_features")).scalar()
    finally:
        engine.dispose()
    assert train_rows == report.train_rows
    assert latest == pd.Timestamp(report.cutoff)  # features as of the split's cut-off


def test_cli_writes_json_and_recommendations_that_recompute_the_metrics(
    settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    for key, value in {
        "RECSYS_DATABASE_URL": settings.database_url,
        "RECSYS_REDIS_URL": settings.redis_url,
        "RECSYS_FEAST_PROJECT": settings.feast_project,
        "RECSYS_DATA_DIR": str(settings.data_dir),
    }.items():
        monkeypatch.setenv(key, value)
    train = tmp_path / "train.csv"
    test = tmp_path / "test.csv"
    rows = [
        (f"u{u}", f"i{(u + j) % 30}", 4.0, 1_700_000_000 + 60 * j)
        for u in range(40)
        for j in range(8)
    ]
    frame = pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])
    later = frame[frame.timestamp >= 1_700_000_000 + 60 * 6]
    frame[frame.timestamp < 1_700_000_000 + 60 * 6].to_csv(train, index=False)
    # and 5 rows repeating a training pair, 3 repeating a test row: both dropped, and counted
    seen = frame[frame.timestamp == 1_700_000_000].head(5).assign(timestamp=1_800_000_000)
    again = later.head(3).assign(timestamp=1_800_000_000)
    pd.concat([later, seen, again]).to_csv(test, index=False)
    out, recs = tmp_path / "results.json", tmp_path / "recs.csv"
    result = CliRunner().invoke(
        app,
        ["evaluate", "--train", str(train), "--test", str(test), "--model", "popularity",
         "--model", "als", "--json", str(out), "--recs-out", str(recs)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    results = pd.read_json(out, typ="series")
    assert results["protocol"] == "files" and len(results["results"]) == 2
    assert results["dataset"] == f"{train} + {test}"  # not the unused --dataset default
    dropped = results["dropped_test_rows"]
    assert dropped == {"unknown_user": 0, "unknown_item": 0, "seen_pair": 5, "repeated_pair": 3}
    assert results["test_rows"] == len(later)  # the file's 88 rows: 80 scored, 8 dropped
    # No ratio or seed drew the split: null, not the unused defaults (the keys stay).
    raw = json.loads(out.read_text())
    assert raw["test_ratio"] is None and raw["seed"] is None
    assert results["environment"]["lightgbm"] == lightgbm.__version__
    assert results["environment"]["python"] == platform.python_version()
    top = pd.read_csv(recs, dtype={"user": str, "item": str})
    relevant = later.groupby("user")["item"].apply(set)
    for entry in results["results"]:
        mine = top[top.algorithm == entry["algorithm"]].sort_values(["user", "rank"])
        lists = mine.groupby("user")["item"].apply(list).to_dict()
        recomputed = ndcg_at_k(lists, relevant.to_dict(), k=10)
        assert recomputed == pytest.approx(entry["ndcg@10"])


def test_a_validation_seed_draws_another_carve_from_the_same_training_rows(settings) -> None:  # type: ignore[no-untyped-def]
    def split(**extra):  # type: ignore[no-untyped-def]
        spec = EvaluationSpec(dataset="synthetic", protocol="random", test_ratio=0.25, **extra)
        return split_data(spec, settings)

    _, outer_train, outer_test = split()
    _, fit, validation = split(validation=True)
    _, fit7, validation7 = split(validation=True, validation_seed=7)
    rows = ["user_id", "item_id", "occurred_at"]

    def keys(frame: pd.DataFrame) -> set:
        return set(map(tuple, frame[rows].astype(str).to_numpy()))

    assert keys(fit7) | keys(validation7) <= keys(outer_train)  # the test rows stay out
    assert not keys(validation7) & keys(outer_test)
    assert keys(validation7) != keys(validation)
    assert len(keys(fit)) + len(keys(validation)) <= len(keys(outer_train))


def test_a_setting_for_a_ranker_not_in_the_run_is_refused_before_any_work(  # type: ignore[no-untyped-def]
    settings, test_endpoints
) -> None:
    spec = EvaluationSpec(algorithms=("popularity",), params={"ease": {"half_life_days": 90}})
    with pytest.raises(ValueError, match="--param for ease, which this run does not evaluate"):
        run_evaluation(spec, settings, test_endpoints, progress=pytest.fail)  # no step started


def test_validation_with_explicit_files_is_refused_not_scored_on_the_test_file(  # type: ignore[no-untyped-def]
    settings, test_endpoints, tmp_path: Path
) -> None:
    rows = "user,item,rating,timestamp\nu,a,4,1700000000\nu,b,5,1700000100\n"
    (tmp_path / "train.csv").write_text(rows)
    (tmp_path / "test.csv").write_text(rows)
    spec = EvaluationSpec(protocol="files", train_file=tmp_path / "train.csv",
                          test_file=tmp_path / "test.csv", validation=True,
                          algorithms=("popularity",))  # fmt: skip
    with pytest.raises(ValueError, match="--validation carves from a protocol's training rows"):
        run_evaluation(spec, settings, test_endpoints, progress=pytest.fail)


def test_a_second_run_on_the_same_database_waits_for_the_first(  # type: ignore[no-untyped-def]
    settings, test_endpoints, report
) -> None:
    """Interleaved runs replaced each other's data: one fitted on the other's split."""
    import threading

    _, eval_endpoints = evaluation_endpoints(settings, test_endpoints)
    spec = EvaluationSpec(dataset="synthetic", protocol="random", test_ratio=0.25, k=10,
                          algorithms=("popularity",))  # fmt: skip
    messages: list[str] = []
    outcome: dict[str, object] = {}
    with hold_evaluation_lock(eval_endpoints, messages.append):  # a run in progress
        second = threading.Thread(
            target=lambda: outcome.update(
                report=run_evaluation(spec, settings, test_endpoints, messages.append)
            )  # fmt: skip
        )
        second.start()
        second.join(timeout=5)
        assert second.is_alive() and "report" not in outcome
        assert messages[-1].startswith("waiting for another evaluation on database ")
    second.join(timeout=120)
    assert not second.is_alive()
    # Once it had the database, it ran on its own split: the random protocol's training rows.
    got = outcome["report"]
    _, train, _ = split_data(spec, settings)
    assert got.train_rows == len(train) != report.train_rows  # type: ignore[attr-defined]


def test_a_plugin_that_reads_store_features_without_a_feature_service_stops_before_fitting(  # type: ignore[no-untyped-def]
    settings, test_endpoints
) -> None:
    """It used to fit first and then crash with Feast's FeatureServiceNotFoundException."""
    from recsys.ranking import registry
    from recsys.ranking.popularity import PopularityRanker
    from recsys.training.feast_features import FeatureServiceMissingError

    class Featy(PopularityRanker):  # another package's ranker: its module is not recsys.*
        name = "featy"
        uses_store_features = True

        def _fit(self, data):  # type: ignore[no-untyped-def]
            pytest.fail("fitted before its FeatureService was checked")

    registry.register(Featy)
    try:
        spec = EvaluationSpec(dataset="synthetic", algorithms=("popularity", "featy"))
        with pytest.raises(FeatureServiceMissingError, match="'featy_v1'.*feature_repo/services"):
            run_evaluation(spec, settings, test_endpoints)
    finally:
        registry._RANKERS.pop("featy", None)


def test_evaluate_refuses_what_it_would_ignore_or_fail_to_write_before_any_work(  # type: ignore[no-untyped-def]
    cli_env, tmp_path: Path
) -> None:
    """Options a files run drops silently, and output paths that fail only after the work."""
    runner = CliRunner()
    files = ["evaluate", "--train", str(tmp_path / "a.csv"), "--test", str(tmp_path / "b.csv")]
    for extra, named in (
        (["--protocol", "random"], "--protocol"),
        (["--dataset", "ml-100k", "--seed", "7"], "--dataset, --seed"),
    ):
        result = runner.invoke(app, [*files, *extra])
        assert result.exit_code == 1, result.output
        assert f"{named}: not used with --train/--test files" in " ".join(result.output.split())
    for option, path in (
        ("--json", tmp_path / "no" / "dir.json"),
        ("--json", tmp_path),
        ("--recs-out", tmp_path / "no" / "recs.csv"),
    ):
        result = runner.invoke(app, ["evaluate", "--model", "popularity", option, str(path)])
        assert result.exit_code == 1, result.output
        assert f"{option} {path}: not a file in an existing directory" in " ".join(
            result.output.split()
        )
    # A bad setting is named as it was given (ALGORITHM.KEY), before any store is touched.
    for param, named in (
        ("two_stage.generator=nosuch", "--param two_stage.generator: unknown ranker 'nosuch'"),
        ("ease.l2=x", "--param ease.l2: Input should be a valid number"),
    ):
        model = param.split(".")[0]
        result = runner.invoke(app, ["evaluate", "--model", model, "--param", param])
        assert result.exit_code == 1, result.output
        assert named in " ".join(result.output.split()), result.output


def test_the_seed_draws_the_split_not_the_synthetic_data(settings) -> None:  # type: ignore[no-untyped-def]
    def split(protocol: str, seed: int):  # type: ignore[no-untyped-def]
        spec = EvaluationSpec(dataset="synthetic", protocol=protocol, seed=seed)
        return split_data(spec, settings)

    (data42, train42, _), (data7, train7, _) = split("temporal", 42), split("temporal", 7)
    pd.testing.assert_frame_equal(data42.interactions, data7.interactions)
    pd.testing.assert_frame_equal(train42, train7)  # a temporal split has nothing to draw
    _, random42, _ = split("random", 42)
    _, random7, _ = split("random", 7)
    assert len(random42) == len(random7) and not random42.equals(random7)


def test_the_metrics_recompute_from_the_cli_files_under_a_dataset_protocol(  # type: ignore[no-untyped-def]
    cli_env, tmp_path: Path
) -> None:
    """--recs-out plus --test-out is all it takes, without this package's split code."""
    out, recs, rows = tmp_path / "r.json", tmp_path / "recs.csv", tmp_path / "test.csv"
    result = CliRunner().invoke(
        app,
        ["evaluate", "--dataset", "synthetic", "--protocol", "random", "--model", "popularity",
         "--json", str(out), "--recs-out", str(recs), "--test-out", str(rows)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    results = pd.read_json(out, typ="series")
    test = pd.read_csv(rows, dtype=str)
    assert len(test) == results["test_rows"] and test["user"].nunique() == results["test_users"]
    top = pd.read_csv(recs, dtype={"user": str, "item": str}).sort_values(["user", "rank"])
    lists = top.groupby("user")["item"].apply(list).to_dict()
    relevant = test.groupby("user")["item"].apply(set).to_dict()
    recomputed = ndcg_at_k(lists, relevant, k=10)
    assert recomputed == pytest.approx(results["results"][0]["ndcg@10"])
