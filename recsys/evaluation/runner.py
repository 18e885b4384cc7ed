"""`recsys evaluate`: every chosen ranker under one protocol, on the production path.

The training part of the split goes into PostgreSQL (an evaluation database beside the app
database, so the live catalogue is untouched), features are built as of the split's cut-off and
registered with Feast, rankers are fitted on what is read back from Postgres, and each test user's
top-k (their training items excluded, full ranking over the catalogue) is scored against the
held-out items.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import psycopg

from recsys.config import Settings
from recsys.data.loader import load_dataset
from recsys.data.queries import read_interactions
from recsys.data.readers import read_dataset
from recsys.data.schema import Dataset
from recsys.db.migrate import upgrade
from recsys.evaluation.environment import measurement_environment
from recsys.evaluation.metrics import evaluate_all, item_user_counts, ndcg_by_user
from recsys.evaluation.splits import (
    random_split,
    read_split_files,
    temporal_split,
    validation_split,
)
from recsys.features.build import build_feature_tables
from recsys.features.feast_ops import apply_definitions
from recsys.infra.database import create_db_engine
from recsys.infra.endpoints import Endpoints, connect_postgres
from recsys.infra.feast_store import build_feature_store
from recsys.ranking import InteractionData, Ranker, create_ranker, protocol_params
from recsys.training.feast_features import FeastFeatureSource, resolve_feature_service

Protocol = Literal["temporal", "random", "files"]
Progress = Callable[[str], None]
#: Advisory-lock name of an evaluation database (one run at a time per database).
EVALUATION_LOCK = "recsys evaluation"


@dataclass
class EvaluationSpec:
    dataset: str = "synthetic"
    path: Path | None = None
    protocol: Protocol = "temporal"
    test_ratio: float = 0.2
    seed: int = 42
    k: int = 10
    algorithms: Sequence[str] = ("popularity", "als")
    train_file: Path | None = None
    test_file: Path | None = None
    #: Carve (fit, validation) out of the training split with the same protocol and evaluate
    #: on the validation rows: for choosing hyperparameters without ever reading the test rows.
    validation: bool = False
    #: Seed of the random validation carve (default: ``seed``). A different one draws another
    #: validation split from the same training rows; changing ``seed`` would move the test rows.
    validation_seed: int | None = None
    #: Hyperparameters per algorithm name, e.g. {"two_stage": {"n_estimators": 200}}.
    params: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def data_source(self) -> str:
        """What was evaluated on, for titles and reports: the dataset's name, or under the
        files protocol the two files (the dataset option plays no part there)."""
        if self.protocol == "files":
            return f"{self.train_file} + {self.test_file}"
        return self.dataset


@dataclass
class AlgorithmResult:
    algorithm: str
    metrics: dict[str, float]
    fit_seconds: float
    score_seconds: float
    users: int
    recommendations: dict[str, list[tuple[str, float]]] = field(repr=False, default_factory=dict)
    #: NDCG@k of each evaluated user, for paired comparisons (:mod:`recsys.evaluation.compare`)
    ndcg_by_user: dict[str, float] = field(repr=False, default_factory=dict)


@dataclass
class EvaluationReport:
    spec: EvaluationSpec
    train_rows: int
    test_rows: int
    test_users: int
    #: The time features were read as of: one second after the latest training interaction
    #: (under the temporal protocol that is just before the split's cut-off, not the quantile).
    cutoff: str
    results: list[AlgorithmResult]
    setup_seconds: dict[str, float]
    dropped_test_rows: dict[str, int] = field(default_factory=dict)
    #: The test items each evaluated user had (what every metric counts as relevant).
    relevant: dict[str, set[str]] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        k = self.spec.k
        return {
            "dataset": self.spec.data_source,
            "protocol": self.spec.protocol,
            # Given files are the split: no ratio or seed drew it (the CLI refuses them there).
            "test_ratio": None if self.spec.protocol == "files" else self.spec.test_ratio,
            "seed": None if self.spec.protocol == "files" else self.spec.seed,
            "validation": self.spec.validation,
            "validation_seed": self.spec.validation_seed,
            "params": self.spec.params,
            "k": k,
            "train_rows": self.train_rows,
            "test_rows": self.test_rows,
            "test_users": self.test_users,
            "cutoff": self.cutoff,
            "dropped_test_rows": self.dropped_test_rows,
            "setup_seconds": self.setup_seconds,
            "environment": measurement_environment(),
            "results": [
                {
                    "algorithm": r.algorithm,
                    **{f"{name}@{k}": value for name, value in r.metrics.items()},
                    "fit_seconds": r.fit_seconds,
                    "score_seconds": r.score_seconds,
                    "users": r.users,
                }
                for r in self.results
            ],
        }

    def recommendations_frame(self) -> pd.DataFrame:
        """Every evaluated user's top-k per algorithm: enough to recompute every metric."""
        rows = [
            (r.algorithm, user, item, rank, score)
            for r in self.results
            for user, items in r.recommendations.items()
            for rank, (item, score) in enumerate(items, 1)
        ]
        return pd.DataFrame(rows, columns=["algorithm", "user", "item", "rank", "score"])

    def test_rows_frame(self) -> pd.DataFrame:
        """The test rows the metrics were computed on (user, item): with
        :meth:`recommendations_frame`, all it takes to recompute them."""
        rows = sorted((user, item) for user, items in self.relevant.items() for item in items)
        return pd.DataFrame(rows, columns=["user", "item"])


def evaluation_endpoints(settings: Settings, endpoints: Endpoints) -> tuple[Settings, Endpoints]:
    """A separate database (``<app db>_eval``) and Feast project on the same servers."""
    name = f"{endpoints.pg_database}_eval"
    with connect_postgres(endpoints) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    eval_endpoints = endpoints.with_database(name)
    eval_settings = settings.model_copy(
        update={
            "database_url": eval_endpoints.database_url,
            "redis_url": eval_endpoints.redis_url,
            "feast_project": f"{settings.feast_project}_eval",
        }
    )
    return eval_settings, eval_endpoints


def hold_evaluation_lock(endpoints: Endpoints, progress: Progress) -> psycopg.Connection:
    """A connection holding the evaluation database's advisory lock; closing it releases the
    lock. Every run replaces that database's data and Feast project, so a second run on the
    same database waits for the first: interleaved, each would fit on the other's split (a
    review measured a temporal run fitting on a random split's rows, test rows included)."""
    conn = connect_postgres(endpoints)
    try:
        key = (EVALUATION_LOCK,)
        if not conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", key).fetchone()[0]:
            progress(f"waiting for another evaluation on database {endpoints.pg_database}")
            conn.execute("SELECT pg_advisory_lock(hashtext(%s))", key)
    except BaseException:
        conn.close()
        raise
    return conn


def _catalogue_from(interactions: pd.DataFrame, name: str) -> Dataset:
    users = pd.DataFrame({"user_id": pd.unique(interactions["user_id"])})
    users["attributes"] = [{} for _ in range(len(users))]
    items = pd.DataFrame({"item_id": pd.unique(interactions["item_id"])})
    items["title"] = None
    items["genres"] = [[] for _ in range(len(items))]
    items["attributes"] = [{} for _ in range(len(items))]
    return Dataset(name, users, items, interactions)


def split_data(
    spec: EvaluationSpec, settings: Settings, data: Dataset | None = None
) -> tuple[Dataset, pd.DataFrame, pd.DataFrame]:
    """The dataset (catalogue) and its (train, test) interactions under the spec's protocol;
    ``data`` is split instead of reading ``spec.dataset`` when given."""
    if spec.protocol == "files":
        if spec.train_file is None or spec.test_file is None:
            raise ValueError("the files protocol needs --train FILE and --test FILE")
        if spec.validation:
            # Which carve of a given training file stands for its test file is the user's call;
            # scoring the test file under a "validation" title would read the rows to tune away
            # from.
            raise ValueError(
                "--validation carves from a protocol's training rows, not from --train/--test "
                "files: split your training file into fit and validation files and pass those "
                "as --train and --test"
            )
        train, test = read_split_files(spec.train_file, spec.test_file)
        both = pd.concat([train, test], ignore_index=True)
        return _catalogue_from(both, spec.train_file.stem), train, test
    path = spec.path
    if spec.dataset in ("movielens", "ml-latest-small") and path is None:
        path = settings.dataset_path
    # The seed draws the split, not the data: the synthetic dataset is the same under any seed,
    # so comparing seeds compares splits (it used to generate another dataset per seed).
    if data is None:
        data = read_dataset(spec.dataset, path)
    if spec.protocol == "temporal":
        train, test = temporal_split(data.interactions, test_ratio=spec.test_ratio)
    elif spec.protocol == "random":
        train, test = random_split(data.interactions, test_ratio=spec.test_ratio, seed=spec.seed)
    else:
        raise ValueError(f"unknown protocol {spec.protocol!r}: temporal, random or files")
    if spec.validation:
        carve_seed = spec.seed if spec.validation_seed is None else spec.validation_seed
        train, test = validation_split(train, spec.protocol, spec.test_ratio, carve_seed)
    return data, train, test


def _protocol_params(name: str, spec: EvaluationSpec) -> dict[str, object]:
    """The ranker's defaults for the protocol (``Ranker.random_protocol_params``: e.g. the
    re-rankers carve their training labels at random, as the protocol carves its test set, and
    EASE drops its time decay), under the run's own ``--param`` settings."""
    return protocol_params(name, spec.protocol == "random", spec.params.get(name))


def _recommend_with_features(
    ranker: Ranker,
    users: list[str],
    k: int,
    as_of: datetime,
    features: FeastFeatureSource,
) -> dict[str, list[tuple[str, float]]]:
    """Top-k for rankers that score with store features: every user's candidates, their
    features as of the cut-off read through the ranker's FeatureService in one point-in-time
    query (what the online store held after materialising at the cut-off), then scores."""
    pool = int(getattr(ranker.config, "candidates", 100))
    frames = []
    for user in users:
        top = ranker.candidates(user, max(pool, k))
        frames.append(pd.DataFrame({"user_id": user, "item_id": top.item_ids}))
    rows = pd.concat(frames, ignore_index=True)
    rows["event_timestamp"] = as_of
    values = features.historical(rows, ranker.feature_service)
    recs = {}
    for user, index in rows.groupby("user_id", sort=False).indices.items():
        items = rows["item_id"].to_numpy()[index].tolist()
        scores = ranker.score(str(user), items, values.iloc[index].reset_index(drop=True))
        finite = np.flatnonzero(np.isfinite(scores))
        best = finite[np.argsort(-scores[finite], kind="stable")][:k]
        recs[str(user)] = [(items[i], float(scores[i])) for i in best]
    return recs


def run_evaluation(
    spec: EvaluationSpec,
    settings: Settings,
    endpoints: Endpoints,
    progress: Progress = lambda _: None,
    data: Dataset | None = None,
) -> EvaluationReport:
    """``data``: split this dataset (e.g. the app database's) instead of reading ``spec``'s."""
    for name in spec.algorithms:
        create_ranker(name, _protocol_params(name, spec))  # bad names/params fail before work
    # A setting for a ranker that is not in the run is a typo or a forgotten --model; ignoring it
    # would report figures for settings that were never used.
    stray = sorted(set(spec.params) - set(spec.algorithms))
    if stray:
        raise ValueError(
            f"--param for {', '.join(stray)}, which this run does not evaluate "
            f"(models: {', '.join(spec.algorithms)}); add --model {stray[0]} or drop the setting"
        )
    setup: dict[str, float] = {}

    def timed(label: str, work: Callable[[], object]) -> object:
        progress(label)
        started = time.perf_counter()
        result = work()
        setup[label] = round(time.perf_counter() - started, 3)
        return result

    data, train, test = split_data(spec, settings, data)
    eval_settings, eval_endpoints = evaluation_endpoints(settings, endpoints)
    with hold_evaluation_lock(eval_endpoints, progress):
        return _evaluate(
            spec, data, train, test, eval_settings, eval_endpoints, progress, timed, setup
        )


def _evaluate(
    spec: EvaluationSpec,
    data: Dataset,
    train: pd.DataFrame,
    test: pd.DataFrame,
    eval_settings: Settings,
    eval_endpoints: Endpoints,
    progress: Progress,
    timed: Callable[[str, Callable[[], object]], object],
    setup: dict[str, float],
) -> EvaluationReport:
    """Load the training split into the evaluation database, then fit and score each ranker."""
    engine = create_db_engine(eval_endpoints)
    try:
        timed("migrate evaluation database", lambda: upgrade(engine))
        train_data = Dataset(data.name, data.users, data.items, train)
        timed("load training split into Postgres", lambda: load_dataset(engine, train_data))
        cutoff = train["occurred_at"].max() + timedelta(seconds=1)
        timed("build features as of the cut-off", lambda: build_feature_tables(engine, cutoff))
        timed("feast apply", lambda: apply_definitions(eval_settings, eval_endpoints))
        interactions = read_interactions(engine)
    except BaseException:
        engine.dispose()
        raise

    # Rankers that learn from store features read them point-in-time through Feast.
    store = build_feature_store(eval_settings, eval_endpoints)
    features = FeastFeatureSource(store, engine)
    matrix = InteractionData.from_frame(interactions, data.items["item_id"], features=features)
    known_users = set(matrix.user_ids)
    relevant = {
        user: set(items)
        for user, items in test.groupby("user_id")["item_id"]
        if user in known_users
    }
    item_popularity = item_user_counts(interactions)

    results = []
    try:
        rankers = {
            name: create_ranker(name, _protocol_params(name, spec)) for name in spec.algorithms
        }
        for ranker in rankers.values():  # a missing FeatureService stops the run before any fit
            if ranker.uses_store_features:
                resolve_feature_service(store, ranker)
        for name, ranker in rankers.items():
            progress(f"fit {name}")
            started = time.perf_counter()
            ranker.fit(matrix)
            fit_seconds = time.perf_counter() - started
            progress(f"score {name}")
            started = time.perf_counter()
            if ranker.uses_store_features:
                recs = _recommend_with_features(ranker, list(relevant), spec.k, cutoff, features)
            else:
                recs = {}
                for user in relevant:
                    top = ranker.recommend(user, spec.k, exclude_seen=True)
                    recs[user] = list(zip(top.item_ids.tolist(), top.scores.tolist(), strict=True))
            score_seconds = time.perf_counter() - started
            top_items = {user: [item for item, _ in items] for user, items in recs.items()}
            metrics = evaluate_all(
                top_items,
                relevant,
                k=spec.k,
                catalog_size=matrix.n_items,
                item_popularity=item_popularity,
                n_users=matrix.n_users,
            )
            results.append(
                AlgorithmResult(
                    name,
                    metrics,
                    round(fit_seconds, 3),
                    round(score_seconds, 3),
                    len(recs),
                    recs,
                    ndcg_by_user(top_items, relevant, spec.k),
                )
            )
    finally:
        engine.dispose()
    return EvaluationReport(
        spec=spec,
        train_rows=len(interactions),
        test_rows=int(sum(len(items) for items in relevant.values())),
        test_users=len(relevant),
        cutoff=cutoff.isoformat(),
        results=results,
        setup_seconds=setup,
        dropped_test_rows={k: int(v) for k, v in test.attrs.get("dropped", {}).items()},
        relevant={str(user): {str(i) for i in items} for user, items in relevant.items()},
    )
