"""`recsys monitor drift`: served features and scores against the model's training reference."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from monitoring.served import read_logged_features, read_served_slots
from recsys.config import Settings
from recsys.db.models import DriftReport, Model
from recsys.serving.online_features import USER_VIEWS

#: Below this many compared requests, only large shifts stand out of the sampling noise
#: (monitoring/drift_noise.py keeps the noise itself from being called drift).
SMALL_SAMPLE_REQUESTS = 500


class NoServedDataError(RuntimeError):
    pass


class ReferenceUnavailableError(NoServedDataError):
    """The served model's drift reference is not registered, missing, or unreadable."""


class NothingToCompareError(NoServedDataError):
    """Something was served, but no logged feature vector of a model to compare."""


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
            f"model version {version}: drift reference {path} is missing; `recsys train` a new "
            "version to get a new one"
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


def requests_per_version(served: pd.DataFrame) -> dict[int, int]:
    """Personalised requests per model version, most first (fallback answers have no model)."""
    personalised = served[~served["fallback"]]
    counts = personalised.groupby("model_version")["request_id"].nunique()
    return {int(v): int(n) for v, n in counts.sort_values(ascending=False, kind="stable").items()}


def compared_columns(reference: pd.DataFrame, current: pd.DataFrame) -> list[str]:
    """The columns drift is tested on: those in both frames, except ``rank`` (1 to k on both
    sides by construction: it cannot drift, only dilute the share) and absolute timestamps
    (``…_ts``: they move with the calendar on their own, and every event the API receives sets
    the user's last one to now); ``days_since_last_interaction`` carries their relative form."""
    return [
        c
        for c in reference.columns
        if c in current.columns and c != "rank" and not c.endswith("_ts")
    ]


@dataclass(frozen=True)
class DriftSample:
    """What a drift report compares: the served rows of the logged requests of one model
    version, and that version's reference, in the same columns."""

    version: int
    current: pd.DataFrame
    reference: pd.DataFrame
    #: logged requests compared, and the version's (non-fallback) requests in the period
    requests: int
    version_requests: int
    #: the reference's list length: served slots beyond it are not compared
    reference_k: int


def drift_sample(
    engine: Engine, since: datetime, until: datetime, served: pd.DataFrame, max_requests: int
) -> DriftSample:
    """The served rows to test for drift: of the model version that served most of the
    period's personalised requests, the requests whose feature vectors were logged (at most
    ``max_requests``), their top slots up to the reference's k (a client asking for 50 items
    must not look like drift against a top-10 reference).

    Raises :class:`NothingToCompareError` (with the reason) when there is nothing to compare,
    :class:`ReferenceUnavailableError` when the version's reference cannot be read."""
    versions = requests_per_version(served)
    if not versions:
        raise NothingToCompareError("only fallback (cold-start) answers were served")
    version, version_requests = next(iter(versions.items()))
    reference = read_reference(engine, version)
    logged = read_logged_features(engine, since, until, version, max_requests)
    if logged.empty:
        raise NothingToCompareError("no served request had its feature vector logged")
    # (read_logged_features kept only this version's personalised requests)
    current = logged.merge(served, on=["request_id", "rank"], how="inner")
    reference_k = int(reference["rank"].max())
    current = current[current["rank"] <= reference_k]
    columns = compared_columns(reference, current)
    if current.empty or not any("__" in c for c in columns):
        raise NothingToCompareError(
            f"no logged feature vector of model version {version} to compare"
        )
    return DriftSample(
        version=version,
        current=_one_value_per_user(current).reset_index(drop=True)[columns],
        reference=_one_value_per_user(reference)[columns],
        requests=int(current["request_id"].nunique()),
        version_requests=version_requests,
        reference_k=reference_k,
    )


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
    served = read_served_slots(engine, since, until)
    if served.empty:
        raise NoServedDataError(f"nothing was served between {since} and {until}")
    sample = drift_sample(engine, since, until, served, settings.monitor_drift_max_requests)
    name = f"drift-{since:%Y%m%dT%H%M%S}-{until:%Y%m%dT%H%M%S}-v{sample.version}"
    result = run_drift_report(
        sample.current, sample.reference, settings.reports_dir, name,
        drift_share=settings.monitor_drift_alert,
    )  # fmt: skip
    row = DriftReport(
        period_start=since,
        period_end=until,
        model_version=sample.version,
        current_rows=len(sample.current),
        current_requests=sample.requests,
        reference_rows=len(sample.reference),
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
