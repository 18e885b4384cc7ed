"""`recsys monitor drift`: served features and scores against the model's training reference."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from monitoring.served import read_served_items
from recsys.config import Settings
from recsys.db.models import DriftReport, Model
from recsys.serving.online_features import USER_VIEWS


class NoServedDataError(RuntimeError):
    pass


class ReferenceUnavailableError(NoServedDataError):
    """The served model's drift reference is not registered, missing, or unreadable."""


def read_reference(engine: Engine, version: int) -> pd.DataFrame:
    """The drift reference model ``version`` saved at training time (its top-k for a sample of
    users, with the features the store held then)."""
    with Session(engine) as session:
        model = session.get(Model, version)
    if model is None or not model.reference_path:
        raise ReferenceUnavailableError(f"model version {version} has no drift reference")
    path = Path(model.reference_path)
    if not path.is_file():
        raise ReferenceUnavailableError(
            f"model version {version}: drift reference {path} is missing"
        )
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several kinds for a damaged file
        raise ReferenceUnavailableError(
            f"model version {version}: drift reference {path} cannot be read "
            f"({type(exc).__name__}: {exc}); `recsys train` a new version to get a new one"
        ) from exc


def _one_value_per_user(frame: pd.DataFrame) -> pd.DataFrame:
    """A user's features repeat on each of their k served rows; keep them on the rank-1 row only,
    so user features are compared per request (their sampling unit), not k times over."""
    frame = frame.copy()
    user_columns = [c for c in frame.columns if c.startswith(USER_VIEWS)]
    frame.loc[frame["rank"] != 1, user_columns] = np.nan
    return frame


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def build_drift_report(
    settings: Settings, engine: Engine, since: datetime, until: datetime
) -> DriftReport:
    """Build the report, store HTML + JSON under the reports directory, record a summary row."""
    from monitoring.evidently_report import run_drift_report

    since, until = _utc(since), _utc(until)
    if since >= until:
        raise NoServedDataError(f"--since ({since}) must be before --until ({until})")
    served = read_served_items(engine, since, until)
    if served.empty:
        raise NoServedDataError(f"nothing was served between {since} and {until}")
    # Fallback answers carry popularity counts, not model scores: they are not the model's output.
    personalised = served[~served["fallback"]]
    if personalised.empty:
        raise NoServedDataError("only fallback (cold-start) answers were served in that period")
    version = int(personalised["model_version"].mode().iloc[0])
    current = personalised[personalised["model_version"] == version]

    reference = read_reference(engine, version)
    columns = [c for c in reference.columns if c in current.columns]
    current = current[columns].reset_index(drop=True)

    name = f"drift-{since:%Y%m%dT%H%M%S}-{until:%Y%m%dT%H%M%S}-v{version}"
    result = run_drift_report(
        _one_value_per_user(current), _one_value_per_user(reference[columns]),
        settings.reports_dir, name,
    )  # fmt: skip
    row = DriftReport(
        period_start=since,
        period_end=until,
        model_version=version,
        current_rows=len(current),
        reference_rows=len(reference),
        drifted_columns=result.drifted_columns,
        total_columns=result.total_columns,
        drift_share=result.drift_share,
        dataset_drift=result.dataset_drift,
        columns=result.columns,
        html_path=str(result.html_path),
        json_path=str(result.json_path),
    )
    with Session(engine, expire_on_commit=False) as session, session.begin():
        session.add(row)
    return row
