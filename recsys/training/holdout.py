"""A trained version's offline quality: the same ranker, fitted without the latest interactions
and measured on them, so `recsys models list` can say which version ranks better before one is
activated.

The version itself is fitted on everything; what is recorded is how the same algorithm and
settings did one step back in time. That is the `recsys evaluate` temporal protocol on a copy of
the app database (its ``_eval`` database and Feast project), so the features are read as of the
holdout's cut-off and nothing after it reaches the fit.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
import sqlalchemy.exc
from sqlalchemy import Engine

from recsys.config import Settings
from recsys.data.queries import read_app_dataset
from recsys.evaluation.runner import EvaluationSpec, run_evaluation
from recsys.infra.endpoints import Endpoints

log = logging.getLogger(__name__)


def holdout_metrics(
    settings: Settings,
    endpoints: Endpoints,
    engine: Engine,
    algorithm: str,
    params: dict[str, Any],
    test_ratio: float,
) -> dict[str, Any]:
    """NDCG, precision, recall… at ``settings.default_k`` of ``algorithm`` fitted on all but the
    latest ``test_ratio`` of the interactions and scored on them, with what they were measured
    on. When the data leave nothing to measure (no user active on both sides of the cut-off,
    too few interactions before it to fit) the reason is recorded instead: that says something
    about the data, not about the ranker, and is no reason to refuse a version."""
    spec = EvaluationSpec(
        dataset="app database",
        protocol="temporal",
        test_ratio=test_ratio,
        k=settings.default_k,
        algorithms=[algorithm],
        params={algorithm: params},
    )
    # Events may be dated up to a day ahead (client clocks): not yet, so not in the holdout.
    data = read_app_dataset(engine, until=datetime.now(UTC))
    try:
        with _environment_kept():
            report = run_evaluation(
                spec, settings, endpoints, progress=lambda step: log.info("holdout: %s", step),
                data=data,
            )  # fmt: skip
    except ValueError as exc:  # the split or the fit found too little data (names, params checked)
        return _skipped(algorithm, test_ratio, str(exc))
    except (psycopg.errors.InsufficientPrivilege, sqlalchemy.exc.DBAPIError) as exc:
        # A production role may not create or fill the evaluation database; the version is no
        # worse for it. Anything else (a server that does not answer) fails the training.
        cause = getattr(exc, "orig", exc)
        if not isinstance(cause, psycopg.errors.InsufficientPrivilege):
            raise
        return _skipped(
            algorithm,
            test_ratio,
            f"{str(cause).strip()}: let this role own the evaluation database (CREATE DATABASE "
            f"{endpoints.pg_database}_eval OWNER <role>), or set RECSYS_TRAIN_HOLDOUT=0",
        )
    (result,) = report.results
    k = spec.k
    return {
        "protocol": "temporal",
        "test_ratio": test_ratio,
        "cutoff": report.cutoff,
        "k": k,
        "users": result.users,
        "test_rows": report.test_rows,
        **{f"{name}@{k}": round(value, 4) for name, value in result.metrics.items()},
        "fit_seconds": result.fit_seconds,
    }


@contextmanager
def _environment_kept() -> Iterator[None]:
    """Feast reads its connection settings from the environment, so the evaluation points the
    process's at its own project and database; they are put back for the rest of the process."""
    before = dict(os.environ)
    try:
        yield
    finally:
        for key in set(os.environ) - set(before):
            del os.environ[key]
        os.environ.update(before)


def _skipped(algorithm: str, test_ratio: float, reason: str) -> dict[str, Any]:
    log.warning("holdout of %s not measured: %s", algorithm, reason)
    return {"protocol": "temporal", "test_ratio": test_ratio, "skipped": reason}
