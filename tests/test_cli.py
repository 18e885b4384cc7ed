"""The `recsys` command line against real stores."""

import json
import os
from pathlib import Path

import pytest
import redis
from sqlalchemy import text
from typer.testing import CliRunner

from recsys.cli import app

pytestmark = pytest.mark.integration


def _interactions(engine) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM interactions")).scalar_one()


def test_malformed_file_stops_with_file_and_line_and_writes_nothing(
    cli_env,
    engine,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["data", "load", "--dataset", "synthetic"]).exit_code == 0
    before = _interactions(engine)
    bad = tmp_path / "events.csv"
    bad.write_text("user,item,rating,timestamp\nu1,i1,4,1700000000\nu2,i2,4,not-a-time\n")
    result = runner.invoke(app, ["data", "load", "--dataset", "csv", "--path", str(bad)])
    assert result.exit_code == 1
    assert "events.csv, line 3" in result.output and "not a timestamp" in " ".join(
        result.output.split()
    )
    assert _interactions(engine) == before


def test_a_hold_out_keeps_the_latest_interactions_for_the_simulator(  # type: ignore[no-untyped-def]
    cli_env, settings, engine, tmp_path: Path
) -> None:
    import pandas as pd

    from recsys.data.readers import read_dataset

    # MovieLens: its latest fifth is mostly users who joined late, and they must be held out
    # too (an evaluation split would drop them; the simulator replays them as cold starts)
    everything = read_dataset("movielens", settings.dataset_path).interactions
    held_out = tmp_path / "heldout.csv"
    result = CliRunner().invoke(
        app,
        ["data", "load", "--dataset", "movielens", "--path", str(settings.dataset_path),
         "--hold-out", "0.2", "--held-out-csv", str(held_out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    later = pd.read_csv(held_out, dtype={"user_id": str, "item_id": str})
    with engine.connect() as conn:
        loaded, newest = conn.execute(
            text("SELECT count(*), extract(epoch FROM max(occurred_at)) FROM interactions")
        ).one()
        known = set(conn.execute(text("SELECT DISTINCT user_id FROM interactions")).scalars())
    assert loaded + len(later) == len(everything) and 0.19 < len(later) / len(everything) < 0.21
    assert later["timestamp"].min() >= int(newest)  # every held-out row is later than training
    assert not set(later["user_id"]) <= known  # newcomers are held out, not lost
    assert list(later.columns) == ["user_id", "item_id", "rating", "timestamp"]
    assert not list(tmp_path.glob(".*partial"))
    nowhere = CliRunner().invoke(
        app, ["data", "load", "--hold-out", "0.2", "--held-out-csv", str(tmp_path / "no/dir.csv")]
    )
    assert nowhere.exit_code == 1 and "--held-out-csv" in nowhere.output
    assert _interactions(engine) == loaded  # refused before the load: the database is as it was


def test_operator_mistakes_get_one_line_answers(cli_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    runner = CliRunner()
    missing = runner.invoke(app, ["simulate", "--heldout", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 1 and "nope.csv: file not found" in " ".join(missing.output.split())
    assert missing.exception is None or isinstance(missing.exception, SystemExit)
    assert runner.invoke(app, ["data", "load", "--dataset", "synthetic"]).exit_code == 0
    naive = runner.invoke(app, ["features", "build", "--as-of", "2030-01-01T00:00"])
    assert naive.exit_code == 0, naive.output  # a time without a zone is UTC
    # past what pandas holds: refused by name, not an OverflowError (nor Feast marking the
    # online store as loaded up to the year 2999)
    for command in (["build", "--as-of"], ["materialize", "--end"]):
        far = runner.invoke(app, ["features", *command, "2999-01-01"])
        assert far.exit_code == 1 and isinstance(far.exception, SystemExit), far.output
        assert f"{command[1]} 2999-01-01T00:00:00: out of range" in far.output
    ahead = runner.invoke(app, ["features", "materialize", "--end", "2100-01-01"])
    assert ahead.exit_code == 1 and "--end 2100-01-01T00:00:00: in the future" in ahead.output
    assert runner.invoke(app, ["features", "apply"]).exit_code == 0
    trained = runner.invoke(app, ["train", "--model", "popularity"])
    assert trained.exit_code == 0, trained.output
    assert "(popularity) [active]: {" in trained.output  # rich took "[active]" for markup
    # The registry row is all there: data window in the list, the rest in `models show`.
    listed = runner.invoke(app, ["models", "list"])
    assert listed.exit_code == 0 and " → " in listed.output, listed.output
    assert "NDCG@10 0." in listed.output  # measured on a holdout by default (RECSYS_TRAIN_HOLDOUT)
    version = next(line.split("│")[1].strip() for line in listed.output.splitlines() if "✓" in line)
    shown = runner.invoke(app, ["models", "show", version])
    assert shown.exit_code == 0, shown.output
    row = json.loads(shown.output)
    assert row["algorithm"] == "popularity" and len(row["artifact_sha256"]) == 64
    assert row["train_start"] < row["train_end"] and "fit_seconds" in row["metrics"]
    assert row["metrics"]["holdout"]["test_ratio"] == 0.1 and row["metrics"]["holdout"]["users"]
    missing = runner.invoke(app, ["models", "show", "99999"])
    assert missing.exit_code == 1 and "no model version 99999" in missing.output
    # The operator is told where the broken artifact is (API clients are not: their 409 is
    # the same message without the path).
    (Path(row["artifact_path"]) / "ranker.npz").unlink()
    broken = runner.invoke(app, ["models", "activate", version])
    flat = "".join(broken.output.split())
    assert broken.exit_code == 1 and "artifactfileranker.npzismissing" in flat, broken.output
    assert "".join(row["artifact_path"].split()) in flat


def test_training_on_an_empty_database_is_one_line(cli_env, engine) -> None:  # type: ignore[no-untyped-def]
    runner = CliRunner()
    assert runner.invoke(app, ["features", "apply"]).exit_code == 0  # so only the data is missing
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE interactions"))
    result = runner.invoke(app, ["train", "--model", "popularity"])
    assert result.exit_code == 1, result.output
    assert "no interactions in the database: run `recsys data load` first" in result.output
    assert isinstance(result.exception, SystemExit)  # not a RuntimeError's traceback
    assert runner.invoke(app, ["data", "load", "--dataset", "synthetic"]).exit_code == 0


def test_materializing_a_project_never_applied_is_an_error(cli_env, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Feast materialises its zero feature views without a word: it read as a success."""
    project = f"{cli_env['RECSYS_FEAST_PROJECT']}_never"
    monkeypatch.setenv("RECSYS_FEAST_PROJECT", project)
    result = CliRunner().invoke(app, ["features", "materialize"])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    said = " ".join(result.output.split())
    assert f"Feast project '{project}' has no feature views: run `recsys features apply`" in said
    assert "online store holds features" not in result.output


def test_unknown_ranker_is_a_clear_error(cli_env) -> None:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(app, ["train", "--model", "nope"])
    assert result.exit_code == 1 and "unknown ranker 'nope'" in result.output
    # a ranker named by a parameter is named with it, on one line, before any work
    for param in ("generator=nope", 'scorers=["ease", "nope"]'):
        result = CliRunner().invoke(app, ["train", "--model", "two_stage", "--param", param])
        assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
        [line] = result.output.strip().splitlines()
        key = param.partition("=")[0]
        assert line.startswith(f"error: --param {key}: unknown ranker 'nope'; available: "), line


def test_a_data_engineer_runs_feast_directly(settings, cli_env, engine) -> None:  # type: ignore[no-untyped-def]
    """`eval "$(recsys features env)" && cd feature_repo && feast apply` works as documented."""
    import subprocess
    import sys

    # its own data and feature tables: what materialize writes must not depend on test order
    for step in (["data", "load", "--dataset", "synthetic"], ["features", "build"]):
        assert CliRunner().invoke(app, step).exit_code == 0, step
    exports = CliRunner().invoke(app, ["features", "env"])
    assert exports.exit_code == 0
    env = dict(os.environ)
    for line in exports.output.strip().splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        env[key] = value.strip("'")
    env["RECSYS_FEAST_PROJECT"] = settings.feast_project + "_cli"
    feast = str(Path(sys.executable).with_name("feast"))
    repo = settings.feature_repo

    applied = subprocess.run(
        [feast, "apply"], cwd=repo, env=env, capture_output=True, text=True, timeout=300
    )
    assert applied.returncode == 0, applied.stderr
    services = subprocess.run(
        [feast, "feature-services", "list"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "als_v1" in services.stdout and "popularity_v1" in services.stdout
    materialized = subprocess.run(
        [feast, "materialize-incremental", "2030-01-01T00:00:00"],
        cwd=repo, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert materialized.returncode == 0, materialized.stderr
    # Not `feast teardown`: with the SQL registry it deletes every project's definitions (Feast
    # 0.67), including the session's own. Remove this project's online rows instead; Feast keys
    # end with the project name.
    client = redis.Redis.from_url(settings.redis_url)
    suffix = env["RECSYS_FEAST_PROJECT"].encode()
    keys = [k for k in client.scan_iter(count=1000) if k.endswith(suffix)]
    assert keys, "materialize-incremental wrote nothing to Redis"
    client.delete(*keys)


def test_drift_report_over_an_empty_period_is_a_clear_error(cli_env) -> None:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(
        app, ["monitor", "drift", "--since", "2000-01-01", "--until", "2000-01-02"]
    )
    assert result.exit_code == 1 and "nothing was served between" in result.output


@pytest.mark.parametrize(
    ("command", "store"),
    [(["models", "list"], "PostgreSQL"), (["worker", "features"], "Redis")],
)
def test_a_store_that_does_not_answer_is_one_line(  # type: ignore[no-untyped-def]
    command, store, settings, tmp_path: Path
) -> None:
    """The installed `recsys` command, with one store pointed at a closed port: one line naming
    the store and the reason, exit 1 (it printed a few hundred lines of traceback)."""
    import subprocess
    import sys

    from recsys.infra.embedded import _free_port

    closed = _free_port()
    env = {
        **os.environ,
        "RECSYS_DATABASE_URL": settings.database_url,
        "RECSYS_REDIS_URL": settings.redis_url,
        "RECSYS_FEAST_PROJECT": settings.feast_project,
        "RECSYS_DATA_DIR": str(tmp_path),
    }
    if store == "PostgreSQL":
        env["RECSYS_DATABASE_URL"] = f"postgresql+psycopg://root@127.0.0.1:{closed}/nowhere"
    else:
        env["RECSYS_REDIS_URL"] = f"redis://127.0.0.1:{closed}/0"
    script = Path(sys.executable).with_name("recsys")  # the console script pyproject installs
    run = subprocess.run(
        [str(script), *command], env=env, capture_output=True, text=True, timeout=300
    )
    lines = run.stderr.strip().splitlines()
    assert run.returncode == 1, run.stdout + run.stderr
    assert len(lines) == 1 and lines[0].startswith(f"error: {store} did not answer"), run.stderr
    assert str(closed) in lines[0]


def test_a_server_that_answers_with_an_error_is_not_called_down(settings, engine) -> None:  # type: ignore[no-untyped-def]
    """A lock timeout is PostgreSQL answering: the error is its own, not 'did not answer'."""
    import subprocess
    import sys

    env = {
        **os.environ,
        "RECSYS_DATABASE_URL": settings.database_url,
        "RECSYS_REDIS_URL": settings.redis_url,
        "PGOPTIONS": "-c lock_timeout=300",
    }
    script = Path(sys.executable).with_name("recsys")
    with engine.connect() as holder, holder.begin():
        holder.execute(text("LOCK TABLE models IN ACCESS EXCLUSIVE MODE"))
        run = subprocess.run(
            [str(script), "models", "list"], env=env, capture_output=True, text=True, timeout=300
        )
    assert run.returncode != 0 and "lock timeout" in run.stderr
    assert "did not answer" not in run.stderr


def test_a_load_that_leaves_the_active_version_behind_says_so(
    cli_env, engine, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """A load of other data under the served version warns then, not at the API's next start
    (which refuses that version) or in a client's 422 for an item it was served."""
    import pandas as pd

    from recsys.db.models import Model
    from recsys.ranking import InteractionData, create_ranker
    from recsys.training.registry import artifact_checksum, register_model

    runner = CliRunner()
    assert runner.invoke(app, ["data", "load", "--dataset", "synthetic"]).exit_code == 0
    with engine.connect() as conn:
        loaded = pd.read_sql_query(text("SELECT user_id, item_id FROM interactions"), conn)
        active_before = conn.execute(
            text("SELECT version FROM models WHERE is_active")
        ).scalar_one_or_none()

    def serve_popularity_on(interactions: pd.DataFrame) -> int:
        ranker = create_ranker("popularity", {})
        ranker.fit(InteractionData.from_frame(interactions))
        directory = tmp_path / f"popularity-{len(list(tmp_path.iterdir()))}"
        ranker.save(directory)
        row = Model(
            algorithm="popularity", params={}, feature_service=ranker.feature_service,
            n_interactions=len(interactions), metrics={}, artifact_path=str(directory),
            artifact_sha256=artifact_checksum(directory),
        )  # fmt: skip
        return register_model(engine, row).version

    mine = [serve_popularity_on(loaded.assign(item_id="elsewhere-" + loaded["item_id"]))]
    try:
        stale = runner.invoke(app, ["data", "load", "--dataset", "synthetic"])
        assert stale.exit_code == 0, stale.output  # the load itself stands
        said = " ".join(stale.output.split())
        assert f"warning: model version {mine[0]} (popularity) was trained on another" in said
        assert "A running API keeps serving that version until it restarts" in said
        mine.append(serve_popularity_on(loaded))
        fits = runner.invoke(app, ["data", "load", "--dataset", "synthetic"])
        assert fits.exit_code == 0 and "warning" not in fits.output, fits.output
    finally:
        with engine.begin() as conn:
            conn.execute(Model.__table__.delete().where(Model.version.in_(mine)))
            if active_before is not None:
                conn.execute(
                    Model.__table__.update()
                    .where(Model.version == active_before)
                    .values(is_active=True)
                )
