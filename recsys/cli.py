"""The `recsys` command line (Typer). Each command resolves the servers once, then does its job."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from recsys.config import Settings

app = typer.Typer(
    help="Feature-store-centric recommender: data → Feast → rankers → API → drift.",
    no_args_is_help=True,
)
services_app = typer.Typer(
    help="Embedded PostgreSQL + Redis (used when no URLs are configured).", no_args_is_help=True
)
db_app = typer.Typer(help="The app database schema (Alembic).", no_args_is_help=True)
data_app = typer.Typer(help="Datasets into the app database.", no_args_is_help=True)
features_app = typer.Typer(
    help="Feature tables, `feast apply`, `feast materialize`.", no_args_is_help=True
)
models_app = typer.Typer(help="The model registry.", no_args_is_help=True)
monitor_app = typer.Typer(help="Evidently reports on what the API served.", no_args_is_help=True)
app.add_typer(services_app, name="services")
app.add_typer(db_app, name="db")
app.add_typer(data_app, name="data")
app.add_typer(features_app, name="features")
app.add_typer(models_app, name="models")
app.add_typer(monitor_app, name="monitor")
worker_app = typer.Typer(help="Background workers.", no_args_is_help=True)
app.add_typer(worker_app, name="worker")

console = Console()
# Errors go to stderr unwrapped, so a file path and line number stay on one line.
err_console = Console(stderr=True, soft_wrap=True)


class Context:
    """Lazily built per command: settings, endpoints, engine, Feast store."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self._endpoints = None
        self._engine = None
        self._store = None

    @property
    def endpoints(self):  # type: ignore[no-untyped-def]
        if self._endpoints is None:
            from recsys.infra.services import resolve_endpoints

            self._endpoints = resolve_endpoints(self.settings)
        return self._endpoints

    @property
    def engine(self):  # type: ignore[no-untyped-def]
        if self._engine is None:
            from recsys.infra.database import create_db_engine

            self._engine = create_db_engine(self.endpoints)
        return self._engine

    @property
    def store(self):  # type: ignore[no-untyped-def]
        if self._store is None:
            from recsys.infra.feast_store import build_feature_store

            self._store = build_feature_store(self.settings, self.endpoints)
        return self._store


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    return typer.Exit(code=1)


def _one_line(exc: Exception, param_prefix: str = "") -> str:
    """A pydantic report on several lines (a header, each field, a link) as one: each parameter
    and what is wrong with it, named as it was given (``param_prefix``: ``two_stage.`` under
    ``evaluate``, whose --param names the ranker). Other errors as they are."""
    from pydantic import ValidationError

    if not isinstance(exc, ValidationError):
        return str(exc)
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"])
        why = error["msg"].removeprefix("Value error, ")
        problems.append(f"--param {param_prefix}{where}: {why}" if where else why)
    return "; ".join(problems)


def _check_output(option: str, path: Path) -> None:
    """Refuse an output file that could not be written, before the work that produces it."""
    if path.is_dir() or not path.parent.is_dir():
        raise _fail(f"{option} {path}: not a file in an existing directory")
    if not os.access(path if path.exists() else path.parent, os.W_OK):
        raise _fail(f"{option} {path}: not writable")


def _check_time(option: str, value: datetime | None, *, future: bool = True) -> None:
    """Refuse a time pandas cannot hold (64-bit nanoseconds: 1677 to 2262) before any work: the
    feature tables and Feast's jobs go through pandas, and such a time ended in a traceback
    (OverflowError) or, for Feast, an online store marked as loaded up to that year. Without
    ``future``, a time after now is refused too."""
    if value is None:
        return
    import pandas as pd

    utc = value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        pd.Timestamp(utc).as_unit("ns")
    except pd.errors.OutOfBoundsDatetime:
        raise _fail(
            f"{option} {value.isoformat()}: out of range, expected a time between "
            f"{pd.Timestamp.min:%Y-%m-%d} and {pd.Timestamp.max:%Y-%m-%d}"
        ) from None
    if not future and utc > datetime.now(UTC):
        # Feast records the store as loaded up to --end, and each incremental run starts where
        # the last one ended: values dated before a mistyped future end would never be loaded.
        raise _fail(
            f"{option} {value.isoformat()}: in the future; later runs would start from it and "
            "skip every feature value dated before it"
        )


@contextmanager
def _step(name: str, timings: list[tuple[str, float]] | None = None) -> Iterator[None]:
    started = time.perf_counter()
    with console.status(f"[bold]{name}…"):
        yield
    elapsed = time.perf_counter() - started
    if timings is not None:
        timings.append((name, elapsed))
    console.print(f"[green]✓[/] {name} [dim]({elapsed:.1f}s)[/]")


# -- services ------------------------------------------------------------------------------
@services_app.command("start")
def services_start() -> None:
    """Start (or reuse) the embedded servers and print their URLs."""
    ctx = Context()
    if not ctx.settings.uses_embedded_servers:
        raise _fail("RECSYS_DATABASE_URL / RECSYS_REDIS_URL are set: nothing embedded to start")
    for key, value in ctx.endpoints.describe().items():
        console.print(f"{key}: {value}")


@services_app.command("status")
def services_status() -> None:
    """Show whether the embedded servers are running."""
    from recsys.infra.services import embedded_servers

    settings = Settings()
    if not settings.uses_embedded_servers:
        console.print("configured servers (RECSYS_DATABASE_URL / RECSYS_REDIS_URL); none embedded")
        return
    table = Table("server", "running", "pid", "address")
    for status in embedded_servers(settings).status():
        table.add_row(
            status.name, "yes" if status.running else "no", str(status.pid or "-"), status.address
        )
    console.print(table)


@services_app.command("stop")
def services_stop() -> None:
    """Stop the embedded servers cleanly (data stays under the data directory)."""
    from recsys.infra.services import embedded_servers

    stopped = embedded_servers(Settings()).stop()
    console.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


# -- db --------------------------------------------------------------------------------------
@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply Alembic migrations (same as `alembic -c migrations/alembic.ini upgrade head`)."""
    from recsys.db.migrate import current_revision, upgrade

    ctx = Context()
    upgrade(ctx.engine, revision)
    console.print(f"database at revision {current_revision(ctx.engine)}")


# -- data -------------------------------------------------------------------------------------
def _load(
    ctx: Context,
    dataset: str,
    path: Path | None,
    seed: int,
    hold_out: float | None = None,
    held_out_csv: Path | None = None,
) -> dict[str, int]:
    from dataclasses import replace

    from recsys.data import DataFormatError
    from recsys.data.loader import load_dataset
    from recsys.data.readers import read_dataset
    from recsys.evaluation.splits import split_at_time

    try:
        data = read_dataset(dataset, path, seed=seed)
    except (DataFormatError, ValueError) as exc:
        raise _fail(str(exc)) from exc
    if hold_out is None:
        return load_dataset(ctx.engine, data)
    assert held_out_csv is not None
    # The latest interactions stay out of the database (so out of features and training) and go
    # to a CSV instead: what `recsys simulate --heldout` replays as users' real next steps.
    _check_output("--held-out-csv", held_out_csv)
    # Every later row, new users and items included: the simulator replays them as they came.
    train, later, when = split_at_time(data.interactions, test_ratio=hold_out)
    if train.empty:  # every interaction at one time: nothing would be left to train on
        raise _fail(f"--hold-out {hold_out}: every interaction is at or after {when}")
    # written beside its final name, renamed only once the load has committed
    partial = held_out_csv.with_name(f".{held_out_csv.name}.partial")
    try:
        later.assign(timestamp=later["occurred_at"].astype("int64") // 10**9)[
            ["user_id", "item_id", "rating", "timestamp"]
        ].to_csv(partial, index=False)
    except OSError as exc:
        raise _fail(f"--held-out-csv {held_out_csv}: {exc.strerror or exc}") from exc
    try:
        counts = load_dataset(ctx.engine, replace(data, interactions=train))
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(held_out_csv)
    return {
        **counts,
        "held_out": len(later),
        "held_out_share": round(len(later) / len(data.interactions), 3),
    }


@data_app.command("load")
def data_load(
    dataset: Annotated[
        str, typer.Option(help="synthetic | movielens | ml-100k | csv")
    ] = "synthetic",
    path: Annotated[
        Path | None, typer.Option(help="Directory (movielens, ml-100k) or CSV file")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic generator")] = 42,
    hold_out: Annotated[
        float | None,
        typer.Option(
            min=0.01,
            max=0.99,
            help="Keep the latest share of interactions (by time) out of the database and write "
            "them to --held-out-csv, for `recsys simulate --heldout`",
        ),
    ] = None,
    held_out_csv: Annotated[
        Path, typer.Option(help="Where --hold-out writes the held-out interactions")
    ] = Path("heldout.csv"),
) -> None:
    """Validate a whole dataset, then bulk-load it (replacing users, items, interactions)."""
    ctx = Context()
    if dataset == "movielens" and path is None:
        path = ctx.settings.dataset_path
    with _step(f"load {dataset}"):
        counts = _load(ctx, dataset, path, seed, hold_out, held_out_csv)
    console.print(counts)
    if hold_out is not None:
        console.print(f"held out: {held_out_csv}")
    from recsys.training.registry import active_version_problem

    # The load replaced the catalogue under the served version: say so now, not at the API's
    # next start (which refuses such a version) or in a client's 422 for an item it was served.
    problem = active_version_problem(ctx.engine)
    if problem:
        console.print(
            f"[yellow]warning:[/] {escape(problem)}. A running API keeps serving that version "
            "until it restarts, then refuses it.",
            soft_wrap=True,
        )


# -- features ---------------------------------------------------------------------------------
@features_app.command("build")
def features_build(
    as_of: Annotated[
        datetime | None,
        typer.Option(help="Snapshot time, UTC unless it names a zone (default: now)"),
    ] = None,
    engine: Annotated[
        str, typer.Option(help="pandas | spark (PySpark on RECSYS_SPARK_MASTER)")
    ] = "pandas",
) -> None:
    """Compute point-in-time user and item feature tables into Postgres."""
    from recsys.features.build import ENGINES, build_feature_tables
    from recsys.features.spark_job import SparkUnavailableError, require_pyspark

    if engine not in ENGINES:
        raise _fail(f"unknown engine {engine!r}: expected one of {', '.join(ENGINES)}")
    _check_time("--as-of", as_of)
    if engine == "spark":
        try:
            require_pyspark()  # before any server is resolved or started
        except SparkUnavailableError as exc:
            raise _fail(str(exc)) from None
    ctx = Context()
    with _step(f"build feature tables ({engine})"):
        counts = build_feature_tables(
            ctx.engine, as_of, compute=engine, spark_master=ctx.settings.spark_master
        )
    console.print(counts)


@features_app.command("apply")
def features_apply() -> None:
    """`feast apply` on feature_repo/ against the configured or embedded servers."""
    from recsys.features.feast_ops import apply_definitions

    ctx = Context()
    with _step("feast apply"):
        log = apply_definitions(ctx.settings, ctx.endpoints)
    console.print(log.strip())


@features_app.command("materialize")
def features_materialize(
    end: Annotated[datetime | None, typer.Option(help="Materialize up to (default: now)")] = None,
) -> None:
    """`feast materialize-incremental`: load the newest feature values into Redis."""
    from recsys.features.feast_ops import EndBeforeLoadedError, NoFeatureViewsError, materialize

    _check_time("--end", end, future=False)
    ctx = Context()
    try:
        with _step("feast materialize-incremental"):
            until = materialize(ctx.settings, ctx.endpoints, end)
    except (NoFeatureViewsError, EndBeforeLoadedError) as exc:
        raise _fail(str(exc)) from exc
    console.print(f"online store holds features up to {until.isoformat()}")


@features_app.command("env")
def features_env() -> None:
    """Print `export` lines for feature_repo/feature_store.yaml: eval "$(recsys features env)"."""
    import shlex

    from recsys.infra.feast_store import feast_environment

    ctx = Context()
    for key, value in feast_environment(ctx.settings, ctx.endpoints).items():
        typer.echo(f"export {key}={shlex.quote(value)}")


# -- training and registry ----------------------------------------------------------------------
def _parse_params(params: list[str]) -> dict[str, Any]:
    parsed: dict[str, Any] = {}
    for item in params:
        key, sep, value = item.partition("=")
        if not sep:
            raise _fail(f"--param {item!r}: expected KEY=VALUE")
        try:
            parsed[key] = json.loads(value)
        except json.JSONDecodeError:
            parsed[key] = value
    return parsed


@app.command()
def train(
    model: Annotated[
        str,
        typer.Option(
            help="Ranker name: popularity, als, bpr, item_knn, ease, sequential_knn, lightgbm, "
            "two_stage, or one an installed package registers (an unknown name lists them)"
        ),
    ],
    param: Annotated[
        list[str] | None, typer.Option(help="Hyperparameter KEY=VALUE, repeatable")
    ] = None,
    activate: Annotated[bool, typer.Option(help="Make the new version the served one")] = True,
    holdout: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=0.99,
            help="Share of the latest interactions the ranker is also measured on, fitted "
            "without them (default RECSYS_TRAIN_HOLDOUT, 0.1); 0 skips the measurement",
        ),
    ] = None,
) -> None:
    """Fit a ranker on the app database, save the artifact and register a version with its
    quality on a holdout of the latest interactions."""
    from pydantic import ValidationError

    from recsys.training.train import NoInteractionsError, train_model

    ctx = Context()
    try:
        with _step(f"train {model}"):
            row = train_model(
                ctx.settings,
                ctx.engine,
                ctx.store,
                model,
                _parse_params(param or []),
                activate=activate,
                holdout=holdout,
                endpoints=ctx.endpoints,
            )
    except (NoInteractionsError, ValueError, ValidationError) as exc:
        raise _fail(_one_line(exc)) from exc
    # escape: rich reads "[active]" as markup and prints nothing
    console.print(
        escape(
            f"model version {row.version} ({row.algorithm})"
            f"{' [active]' if row.is_active else ''}: {row.metrics}"
        )
    )
    if activate and not row.is_active:
        err_console.print(
            f"[yellow]not activated:[/] another version was activated while this one trained "
            f"(a rollback, or `models activate`); `recsys models activate {row.version}` "
            "serves it",
            highlight=False,
        )


@models_app.command("list")
def models_list() -> None:
    """Registered model versions, newest first."""
    from recsys.training.registry import list_models

    table = Table(
        "version", "algorithm", "active", "trained", "data window", "interactions", "fit s",
        "holdout", "feature service", "params",
        caption="`recsys models show N`: artifact, checksum, every metric",
    )  # fmt: skip
    for row in list_models(Context().engine):
        table.add_row(
            str(row.version), row.algorithm, "✓" if row.is_active else "",
            f"{row.created_at:%Y-%m-%d %H:%M}", _window(row.train_start, row.train_end),
            str(row.n_interactions), str(row.metrics.get("fit_seconds", "")),
            _holdout_summary(row.metrics), row.feature_service,
            escape(json.dumps(row.params)) if row.params else "",
        )  # fmt: skip
    Console(width=max(console.width, 160)).print(table)  # dates and versions never truncated


def _holdout_summary(metrics: dict[str, Any]) -> str:
    """A version's holdout NDCG in a few words (:mod:`recsys.training.holdout`)."""
    holdout = metrics.get("holdout")
    if not holdout:
        return "not measured"
    if "skipped" in holdout:
        return "not measured (`models show`: why)"
    k = holdout["k"]
    return f"NDCG@{k} {holdout[f'ndcg@{k}']:.4f} ({holdout['users']} users)"


def _window(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return ""
    return f"{start:%Y-%m-%d} → {end:%Y-%m-%d}"


@models_app.command("show")
def models_show(version: int) -> None:
    """Everything the registry holds about one version, as JSON."""
    from recsys.training.registry import get_model

    row = get_model(Context().engine, version)
    if row is None:
        raise _fail(f"no model version {version}")
    fields = (
        "version", "algorithm", "params", "feature_service", "train_start", "train_end",
        "n_interactions", "metrics", "artifact_path", "artifact_sha256", "reference_path",
        "is_active", "created_at", "activated_at",
    )  # fmt: skip
    console.print_json(json.dumps({f: getattr(row, f) for f in fields}, default=str))


def _with_artifact_path(exc: Exception) -> str:
    """The operator sees where the artifact is; API clients get the same message without it."""
    path = getattr(exc, "path", None)
    return f"{exc} ({path})" if path is not None else str(exc)


@models_app.command("activate")
def models_activate(version: int) -> None:
    """Serve this version (the API switches within seconds, without a restart)."""
    from recsys.training.registry import UnservableModelError, activate

    try:
        row = activate(Context().engine, version)
    except (LookupError, UnservableModelError) as exc:
        raise _fail(_with_artifact_path(exc)) from exc
    console.print(f"model version {row.version} ({row.algorithm}) is active")


@models_app.command("rollback")
def models_rollback() -> None:
    """Serve the version that was active before the current one."""
    from recsys.training.registry import UnservableModelError, rollback

    try:
        row = rollback(Context().engine)
    except (LookupError, UnservableModelError) as exc:
        raise _fail(_with_artifact_path(exc)) from exc
    console.print(f"rolled back: model version {row.version} ({row.algorithm}) is active")


# -- evaluation ---------------------------------------------------------------------------
def parse_algorithm_params(params: list[str]) -> dict[str, dict[str, Any]]:
    parsed: dict[str, dict[str, Any]] = {}
    for item in params:
        name, dot, rest = item.partition(".")
        if not dot or "=" not in rest:
            raise _fail(f"--param {item!r}: expected ALGORITHM.KEY=VALUE")
        parsed.setdefault(name, {}).update(_parse_params([rest]))
    return parsed


@app.command()
def evaluate(
    command: typer.Context,
    dataset: Annotated[
        str, typer.Option(help="synthetic | movielens | ml-100k | csv")
    ] = "synthetic",
    path: Annotated[Path | None, typer.Option(help="Dataset directory or CSV file")] = None,
    protocol: Annotated[str, typer.Option(help="temporal | random | files")] = "temporal",
    test_ratio: Annotated[float, typer.Option(min=0.01, max=0.99)] = 0.2,
    seed: Annotated[
        int, typer.Option(help="Draws the random split and validation carves (not the data)")
    ] = 42,
    k: Annotated[int, typer.Option(min=1, max=1000)] = 10,
    model: Annotated[
        list[str] | None, typer.Option(help="Ranker to evaluate, repeatable (default: all)")
    ] = None,
    train_file: Annotated[Path | None, typer.Option("--train", help="files protocol")] = None,
    test_file: Annotated[Path | None, typer.Option("--test", help="files protocol")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write results as JSON")] = None,
    recs_out: Annotated[
        Path | None, typer.Option("--recs-out", help="Write every top-k as CSV")
    ] = None,
    test_out: Annotated[
        Path | None,
        typer.Option("--test-out", help="Write the test rows scored against as CSV (user,item)"),
    ] = None,
    validation: Annotated[
        bool,
        typer.Option(
            "--validation",
            help="Score a validation split carved from the training rows (for tuning; the "
            "test rows are never read)",
        ),
    ] = False,
    param: Annotated[
        list[str] | None,
        typer.Option(help="Hyperparameter ALGORITHM.KEY=VALUE, repeatable"),
    ] = None,
) -> None:
    """Evaluate rankers side by side under one protocol (production path: Postgres + Feast)."""
    from recsys.data import DataFormatError
    from recsys.evaluation.runner import EvaluationSpec, run_evaluation
    from recsys.ranking import available_rankers, create_ranker, protocol_params

    if train_file or test_file:
        # Options of the dataset protocols mean nothing for given files: refused, not dropped,
        # or the report would read as if they had been applied.
        ignored = [
            f"--{name.replace('_', '-')}"
            for name in ("dataset", "path", "protocol", "test_ratio", "seed")
            # by name: typer ships its own copy of click's ParameterSource
            if getattr(command.get_parameter_source(name), "name", "DEFAULT") != "DEFAULT"
            and not (name == "protocol" and protocol == "files")
        ]
        if ignored:
            raise _fail(
                f"{', '.join(ignored)}: not used with --train/--test files (they are the split); "
                "drop them, or drop --train/--test to split a dataset"
            )
        protocol = "files"
    for option, output in (
        ("--json", json_out),
        ("--recs-out", recs_out),
        ("--test-out", test_out),
    ):
        if output is not None:
            _check_output(option, output)
    spec = EvaluationSpec(
        dataset=dataset, path=path, protocol=protocol, test_ratio=test_ratio, seed=seed, k=k,
        algorithms=model or available_rankers(), train_file=train_file, test_file=test_file,
        validation=validation, params=parse_algorithm_params(param or []),
    )  # fmt: skip
    for name in spec.algorithms:  # before any server is started; named as --param names it
        try:
            create_ranker(name, protocol_params(name, protocol == "random", spec.params.get(name)))
        except ValueError as exc:
            raise _fail(_one_line(exc, param_prefix=f"{name}.")) from exc
    ctx = Context()
    try:
        with console.status("evaluating…") as status:
            report = run_evaluation(
                spec, ctx.settings, ctx.endpoints, lambda s: status.update(f"[bold]{s}…")
            )
    except (DataFormatError, ValueError) as exc:  # a pydantic ValidationError is a ValueError
        raise _fail(_one_line(exc)) from exc

    table = Table(
        title=f"{spec.data_source}, {protocol} protocol"
        f"{' (validation split)' if validation else ''}: "
        f"{report.train_rows} train rows, "
        f"{report.test_rows} test rows, {report.test_users} users, k={k}"
    )
    names = list(report.results[0].metrics) if report.results else []
    for column in ["algorithm", *[f"{n}@{k}" for n in names], "fit s", "score s"]:
        table.add_column(column, justify="left" if column == "algorithm" else "right")
    for result in report.results:
        table.add_row(
            result.algorithm,
            *[f"{result.metrics[n]:.4f}" for n in names],
            f"{result.fit_seconds:.2f}",
            f"{result.score_seconds:.2f}",
        )
    Console(width=max(console.width, 160)).print(table)  # numbers are never truncated
    if json_out:
        json_out.write_text(json.dumps(report.to_json(), indent=2))
        console.print(f"results: {json_out}")
    if recs_out:
        report.recommendations_frame().to_csv(recs_out, index=False)
        console.print(f"recommendations: {recs_out}")
    if test_out:
        report.test_rows_frame().to_csv(test_out, index=False)
        console.print(f"test rows: {test_out}")


# -- serving -------------------------------------------------------------------------------------
@app.command()
def serve(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes")] = 1,
) -> None:
    """Run the HTTP API (uvicorn). Several workers each get their own socket on the port
    (SO_REUSEPORT), so the kernel spreads connections evenly between them. SIGTERM drains first:
    /readyz turns 503 and requests are answered for RECSYS_SHUTDOWN_GRACE_SECONDS."""
    from recsys.infra.api_server import run_api_server

    settings = Settings()
    host, port = host or settings.api_host, port or settings.api_port
    grace = settings.shutdown_grace_seconds
    if workers > 1:
        from recsys.infra.workers import serve_workers

        serve_workers("api.app:create_app", host, port, workers, grace_seconds=grace)
        return
    run_api_server("api.app:create_app", host, port, grace_seconds=grace)


# -- monitoring ------------------------------------------------------------------------------------
@monitor_app.command("drift")
def monitor_drift(
    since: Annotated[datetime, typer.Option(help="Start of the served period (UTC)")],
    until: Annotated[datetime, typer.Option(help="End of the served period (UTC, exclusive)")],
) -> None:
    """Evidently drift report of served features and scores against the training reference."""
    from monitoring.drift import SMALL_SAMPLE_REQUESTS, NoServedDataError, build_drift_report

    ctx = Context()
    try:
        with _step("drift report"):
            summary = build_drift_report(ctx.settings, ctx.engine, since, until)
    except NoServedDataError as exc:
        raise _fail(str(exc)) from exc
    console.print(
        f"report {summary.id}: {summary.drifted_columns}/{summary.total_columns} columns drifted "
        f"(share {summary.drift_share:.2f}, dataset drift: {summary.dataset_drift})\n"
        f"HTML: {summary.html_path}\nJSON: {summary.json_path}",
        soft_wrap=True,
    )
    requests = summary.current_requests or 0
    console.print(
        f"compared {requests} logged requests of model version {summary.model_version} "
        f"({summary.current_rows} rows) with {summary.reference_rows} reference rows"
    )
    if requests < SMALL_SAMPLE_REQUESTS:
        console.print(
            f"[yellow]note:[/] fewer than {SMALL_SAMPLE_REQUESTS} requests can show only large "
            "shifts (columns within sampling noise are not counted as drift)."
        )


@monitor_app.command("weekly")
def monitor_weekly(
    week: Annotated[
        str | None, typer.Option(help="ISO week, e.g. 2026-W47 (default: the last full week)")
    ] = None,
    fail_on_drift: Annotated[
        bool, typer.Option(help="Exit with code 2 when the report raises an alert")
    ] = False,
) -> None:
    """Weekly report: drift, what was served, online quality, change against the last week."""
    from monitoring.drift import NoServedDataError
    from monitoring.weekly import Week, build_weekly_report

    ctx = Context()
    try:
        chosen = Week.parse(week) if week is not None else Week.last_full()
        with _step(f"weekly report {chosen.name}"):
            report = build_weekly_report(ctx.settings, ctx.engine, chosen)
    except (NoServedDataError, ValueError) as exc:
        raise _fail(str(exc)) from exc
    served_by = (
        f"model v{report.model_version}"
        if report.model_version
        else "fallback only"
        if report.requests
        else "nothing served"
    )
    plural = "" if report.requests == 1 else "s"
    table = Table(title=f"{report.week}: {report.requests} request{plural}, {served_by}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("vs last week", justify="right")
    values = {f"quality.{k}": v for k, v in report.quality.items() if k != "requests"}
    values |= {f"distribution.{k}": v for k, v in report.distribution.items()}
    if report.drift_share is not None:
        values["drift_share"] = report.drift_share
    for name, value in values.items():
        change = report.changes.get(name)
        table.add_row(name, f"{value:.4f}", "-" if change is None else f"{change:+.1%}")
    console.print(table if values else f"{table.title}: no numbers", soft_wrap=True)
    if report.html_path:
        console.print(f"HTML: {report.html_path}", soft_wrap=True)
    if report.json_path:
        console.print(f"JSON: {report.json_path}", soft_wrap=True)
    for note in report.notes:  # they qualify the alerts below: a reviewer reads them together
        console.print(f"[yellow]note:[/] {escape(note)}", soft_wrap=True)
    for reason in report.alert_reasons:
        console.print(f"[bold red]alert:[/] {escape(reason)}", soft_wrap=True)
    if report.alert and fail_on_drift:
        raise typer.Exit(code=2)


@app.command()
def simulate(
    heldout: Annotated[
        Path, typer.Option(help="CSV of held-out interactions (user_id,item_id or user,item)")
    ],
    url: Annotated[
        str | None,
        typer.Option(help="The running API (default: RECSYS_API_HOST / RECSYS_API_PORT)"),
    ] = None,
    requests: Annotated[int, typer.Option(min=1)] = 500,
    k: Annotated[int, typer.Option(min=1, max=100)] = 10,
    drift: Annotated[
        list[str], typer.Option(help="Inject drift: users | feature | items (repeatable)")
    ] = [],  # noqa: B006 - typer copies defaults
    api_key: Annotated[str | None, typer.Option(envvar="RECSYS_SIMULATE_API_KEY")] = None,
    seed: int = 0,
) -> None:
    """Replay users through the API; click what they really did next (held-out interactions)."""
    import pandas as pd

    from monitoring.simulate import simulate as run_simulation

    if not heldout.is_file():
        raise _fail(f"{heldout}: file not found (`recsys data load --hold-out 0.2` writes one)")
    try:
        frame = pd.read_csv(heldout, dtype=str)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise _fail(f"{heldout}: not a CSV of interactions ({exc})") from exc
    frame = frame.rename(columns={"user": "user_id", "item": "item_id"})
    if not {"user_id", "item_id"} <= set(frame.columns):
        raise _fail(f"{heldout}: needs user_id and item_id columns, found {list(frame.columns)}")
    ctx = Context()
    if url is None:
        host = "127.0.0.1" if ctx.settings.api_host in ("0.0.0.0", "::") else ctx.settings.api_host
        url = f"http://{host}:{ctx.settings.api_port}"
    activity = None
    if "users" in drift:
        from recsys.data.queries import read_interactions

        activity = read_interactions(ctx.engine)["user_id"].value_counts()
    store = ctx.store if "feature" in drift else None
    try:
        with _step(f"simulating {requests} requests"):
            result = run_simulation(
                url, frame, activity=activity, requests=requests, k=k, drift=drift,
                seed=seed, api_key=api_key, store=store,
            )  # fmt: skip
    except (ValueError, httpx.HTTPError) as exc:
        raise _fail(str(exc)) from exc
    console.print(
        f"{result.requests} requests, {result.clicks} clicks, {result.errors} errors"
        + (f", drift: {', '.join(result.drift)}" if result.drift else "")
    )


# -- workers ---------------------------------------------------------------------------------------
@worker_app.command("features")
def worker_features(
    consumer: Annotated[
        str, typer.Option(help="Consumer name; a restart under the same name resumes its work")
    ] = "",
    batch_size: Annotated[int, typer.Option(min=1)] = 100,
) -> None:
    """Consume the event stream (RECSYS_EVENT_INGESTION=stream) and push the users' fresh
    features to the online store, until SIGTERM/SIGINT (the batch in hand is finished first)."""
    import signal
    import socket
    import threading

    from recsys.features.push import push_user_features
    from recsys.ingest.redis_streams import event_stream
    from recsys.ingest.worker import FeatureUpdateWorker

    ctx = Context()
    stream = event_stream(ctx.settings, ctx.endpoints)
    stream.ensure_group()
    name = consumer or socket.gethostname()  # a pod's name: stable across its restarts
    worker = FeatureUpdateWorker(
        stream, lambda users: push_user_features(ctx.store, ctx.engine, users), name, batch_size
    )
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    console.print(f"worker {name!r} reading {stream.stream} (group {stream.group})")
    stats = worker.run(stop)
    console.print(
        f"stopped: {stats.messages} messages in {stats.batches} batches, "
        f"{stats.users_pushed} user pushes, {stats.failures} failed pushes"
    )


# -- the main job ---------------------------------------------------------------------------
@app.command()
def demo(
    dataset: Annotated[
        str, typer.Option(help="synthetic | movielens | ml-100k | csv")
    ] = "synthetic",
    path: Annotated[Path | None, typer.Option(help="Dataset directory or file")] = None,
    serve_api: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Start the API at the end")
    ] = True,
    port: Annotated[int | None, typer.Option()] = None,
) -> None:
    """Everything on the embedded default: servers, schema, data, features, Feast, models, API."""
    from recsys.data.queries import read_interactions
    from recsys.db.migrate import upgrade
    from recsys.features.build import build_feature_tables
    from recsys.features.feast_ops import apply_definitions, materialize
    from recsys.training.train import train_model

    ctx = Context()
    if dataset == "movielens" and path is None:
        path = ctx.settings.dataset_path
    timings: list[tuple[str, float]] = []
    mode = "embedded" if ctx.settings.uses_embedded_servers else "configured"
    with _step(f"start servers ({mode})", timings):
        ctx.endpoints  # noqa: B018 - resolving starts embedded servers
    with _step("migrate the app database", timings):
        upgrade(ctx.engine)
    with _step(f"load dataset {dataset}", timings):
        counts = _load(ctx, dataset, path, seed=42)
    console.print(f"  [dim]{counts}[/]")
    with _step("build point-in-time feature tables", timings):
        build_feature_tables(ctx.engine)
    with _step("feast apply", timings):
        apply_definitions(ctx.settings, ctx.endpoints)
    with _step("feast materialize-incremental → Redis", timings):
        materialize(ctx.settings, ctx.endpoints)
    for name in ("popularity", "als"):
        with _step(f"train {name}", timings):
            row = train_model(ctx.settings, ctx.engine, ctx.store, name, endpoints=ctx.endpoints)
        console.print(f"  [dim]{name}: {_holdout_summary(row.metrics)}[/]")
    console.print(f"  [dim]active model: version {row.version} ({row.algorithm})[/]")

    table = Table("step", "seconds", title="recsys demo: set-up")
    for name, seconds in timings:
        table.add_row(name, f"{seconds:.1f}")
    table.add_row("[bold]total", f"[bold]{sum(s for _, s in timings):.1f}")
    console.print(table)

    user = read_interactions(ctx.engine).iloc[0]["user_id"]
    host, api_port = ctx.settings.api_host, port or ctx.settings.api_port
    console.print(
        f"\nTry it:\n  curl 'http://{host}:{api_port}/v1/users/{user}/recommendations?k=5'\n"
        f"  curl 'http://{host}:{api_port}/v1/users/somebody-new/recommendations?k=5'  # fallback\n"
        f"  curl http://{host}:{api_port}/readyz"
        + (
            "\nStop the embedded servers afterwards with: recsys services stop"
            if ctx.settings.uses_embedded_servers
            else ""
        ),
        soft_wrap=True,
    )
    if serve_api:
        import uvicorn

        from api.app import create_app

        uvicorn.run(create_app(ctx.settings), host=host, port=api_port, log_level="info")


def main() -> None:
    """The `recsys` command: :data:`app`, with a store that does not answer reported in one
    line (cron logs and terminals got a few hundred lines of traceback)."""
    import psycopg
    import redis
    import sqlalchemy.exc

    try:
        app()
    except (sqlalchemy.exc.OperationalError, psycopg.OperationalError) as exc:
        error = getattr(exc, "orig", None) or exc
        # Only a connection that could not be made or was lost (no SQLSTATE from a server, or
        # class 08): a lock or statement timeout, a deadlock or a full disk is a server that
        # answered, and keeps its traceback.
        state = getattr(error, "sqlstate", None)
        if state is not None and not str(state).startswith("08"):
            raise
        lines = str(error).strip().splitlines()
        reason = lines[0] if lines else type(error).__name__
        raise SystemExit(_fail(f"PostgreSQL did not answer: {reason}").exit_code) from None
    except redis.exceptions.ConnectionError as exc:
        raise SystemExit(_fail(f"Redis did not answer: {exc}").exit_code) from None
