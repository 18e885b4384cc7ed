"""`recsys train --model NAME`: fit on the app database, save the artifact, register a version."""

from __future__ import annotations

import shutil
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, text

from recsys.config import Settings
from recsys.data.queries import read_interactions, read_items
from recsys.db.models import Model
from recsys.infra.endpoints import Endpoints
from recsys.infra.services import resolve_endpoints
from recsys.ranking import InteractionData, create_ranker
from recsys.training.feast_features import FeastFeatureSource, resolve_feature_service
from recsys.training.holdout import holdout_metrics
from recsys.training.reference import build_reference
from recsys.training.registry import artifact_checksum, register_model


class NoInteractionsError(RuntimeError):
    """The app database holds nothing to fit on: an operator's step is missing, not a bug."""


def train_model(
    settings: Settings,
    engine: Engine,
    store,  # feast.FeatureStore: features for the drift reference
    algorithm: str,
    params: dict[str, Any] | None = None,
    *,
    activate: bool = True,
    holdout: float | None = None,
    endpoints: Endpoints | None = None,
) -> Model:
    """``holdout``: the share of the latest interactions the same ranker is measured on
    (:mod:`recsys.training.holdout`; default ``settings.train_holdout``, 0 skips it)."""
    ranker = create_ranker(algorithm, params)  # validates the name and params before any work
    with engine.connect() as conn:  # the database's clock, which stamps versions' created_at
        started_at = conn.execute(text("SELECT now()")).scalar_one()
    feature_service = resolve_feature_service(store, ranker)
    # Events may be dated up to a day ahead (client clocks run fast). They are not yet: the
    # feature build leaves them out, and so does training (or its data window ends tomorrow).
    interactions = read_interactions(engine, until=datetime.now(UTC))
    if interactions.empty:
        raise NoInteractionsError("no interactions in the database: run `recsys data load` first")
    holdout = settings.train_holdout if holdout is None else holdout
    quality = None
    if holdout > 0:
        quality = holdout_metrics(
            settings,
            endpoints or resolve_endpoints(settings),
            engine,
            algorithm,
            ranker.config.model_dump(mode="json"),
            holdout,
        )
    items = read_items(engine)
    # Rankers that learn from store features read them point-in-time through the same Feast
    # FeatureService the API reads online.
    data = InteractionData.from_frame(
        interactions, items["item_id"], features=FeastFeatureSource(store, engine)
    )

    started = time.perf_counter()
    ranker.fit(data)
    fit_seconds = time.perf_counter() - started

    trained_at = datetime.now(UTC)
    directory = (
        settings.models_dir / f"{trained_at:%Y%m%dT%H%M%SZ}-{algorithm}-{uuid.uuid4().hex[:8]}"
    )
    try:
        ranker.save(directory)
        started = time.perf_counter()
        reference = build_reference(
            ranker,
            store,
            feature_service=feature_service,
            as_of=trained_at,
            n_users=settings.reference_users,
            k=settings.default_k,
        )
        reference.to_parquet(directory / "reference.parquet", index=False)
        reference_seconds = time.perf_counter() - started
        checksum = artifact_checksum(directory)
        row = Model(
            algorithm=algorithm,
            params=ranker.config.model_dump(mode="json"),
            feature_service=feature_service,
            train_start=interactions["occurred_at"].min().to_pydatetime(),
            train_end=interactions["occurred_at"].max().to_pydatetime(),
            n_interactions=len(interactions),
            metrics={
                "fit_seconds": round(fit_seconds, 3),
                "reference_seconds": round(reference_seconds, 3),
                "users": data.n_users,
                "items": data.n_items,
                **({"holdout": quality} if quality is not None else {}),
            },
            artifact_path=str(directory),
            artifact_sha256=checksum,
            reference_path=str(directory / "reference.parquet"),
        )
        return register_model(engine, row, activate=activate, started_at=started_at)
    except BaseException:
        # Nothing was registered, so nothing may be left behind to be mistaken for a model.
        shutil.rmtree(directory, ignore_errors=True)
        raise
