"""Evidently data-drift report: what the API served against the model's training reference.

A pure function over two frames (no database): :func:`run_drift_report` writes an HTML report
and a reloadable JSON snapshot and returns a :class:`DriftResult` summary.

Why the drift methods are pinned
--------------------------------
Left on its defaults, Evidently picks the drift test per column from the reference's size:
up to 1,000 reference rows it uses p-value tests (Kolmogorov-Smirnov for numbers, chi-squared or
a proportion z-test for categories and numbers with at most 5 distinct values), above 1,000 rows
distances (Wasserstein, Jensen-Shannon). The same shift would then get a different verdict, and
a score on a different scale, depending on the reference's size, so reports would not be
comparable across models or over time. Here every numerical column uses ``wasserstein``
(Wasserstein distance normed by the reference's standard deviation) and every categorical column
uses ``jensenshannon`` (Jensen-Shannon distance), both with threshold 0.1: a column drifts when
its distance is >= 0.1. Being distances, not p-values, they carry sampling noise on small
samples: for two samples of one normal distribution the normed Wasserstein distance reaches 0.1
about 4% of the time at 1,000 rows each, about 20% at 500, and practically never at 2,000. So a
column over the threshold counts as drifted only when a permutation test says the distance is
beyond the noise of samples of these sizes (:mod:`monitoring.drift_noise`); Evidently's own
page still marks every column over the threshold.

Evidently is imported inside :func:`run_drift_report` only: it is a heavy import (seconds) and
the API process, which never builds reports, must not load it just by importing this module.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from monitoring.drift_noise import NOISE_ALPHA, noise_p_value

ID_COLUMNS: frozenset[str] = frozenset({"user_id", "item_id", "request_id"})
NUM_METHOD = "wasserstein"
CAT_METHOD = "jensenshannon"
NUM_THRESHOLD = 0.1
CAT_THRESHOLD = 0.1


@dataclass(frozen=True)
class DriftResult:
    drift_share: float  # share of drifted columns (0..1)
    drifted_columns: int
    total_columns: int
    dataset_drift: bool  # True when drift_share >= the drift_share threshold
    # {"drifted", "over_threshold", "noise_p_value", "method", "score", "threshold"}: drifted =
    # the score is over the threshold and beyond sampling noise (noise_p_value < NOISE_ALPHA)
    columns: dict[str, dict[str, Any]]
    html_path: Path | None  # None when asked for the JSON only
    json_path: Path


def _is_number(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _to_float(series: pd.Series) -> pd.Series | None:
    """The column as float64, or None when some non-null value is not a number."""
    if _is_number(series):
        return series.astype("float64")  # nullable Int64/Float64 break Evidently's correlations
    if series.dtype != object:
        return None
    converted = pd.to_numeric(series, errors="coerce")
    if converted.notna().sum() != series.notna().sum():
        return None
    return converted.astype("float64")


def _to_category(series: pd.Series) -> pd.Series:
    """The column as Python strings, missing values kept missing."""
    return series.astype(str).astype(object).where(series.notna(), None)


def _prepare(
    current: pd.DataFrame, reference: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame, list[str], list[str]]:
    """Shared non-id columns, typed for Evidently; columns empty in either frame are dropped.

    Numerical: numeric (non-bool) in one frame and numeric, or numbers stored as objects, in the
    other. Categorical: object/string, bool or category columns. Other dtypes (datetimes, ...)
    are not compared.
    """
    numerical: list[str] = []
    categorical: list[str] = []
    cur_cols: dict[str, pd.Series] = {}
    ref_cols: dict[str, pd.Series] = {}
    for column in reference.columns:
        if column in ID_COLUMNS or column not in current.columns:
            continue
        cur, ref = current[column], reference[column]
        if cur.isna().all() or ref.isna().all():
            continue  # Evidently raises on an empty column
        if _is_number(cur) or _is_number(ref):
            cur_num, ref_num = _to_float(cur), _to_float(ref)
            if cur_num is not None and ref_num is not None:
                cur_cols[column], ref_cols[column] = cur_num, ref_num
                numerical.append(column)
                continue
        elif not all(
            pd.api.types.is_object_dtype(s)
            or pd.api.types.is_string_dtype(s)
            or pd.api.types.is_bool_dtype(s)
            or isinstance(s.dtype, pd.CategoricalDtype)
            for s in (cur, ref)
        ):
            continue
        cur_cols[column], ref_cols[column] = _to_category(cur), _to_category(ref)
        categorical.append(column)
    return (
        pd.DataFrame(cur_cols).reset_index(drop=True),
        pd.DataFrame(ref_cols).reset_index(drop=True),
        numerical,
        categorical,
    )


def _column_verdicts(snapshot_dict: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per-column verdicts from ``Snapshot.dict()``.

    ``metrics`` holds one ``ValueDrift`` entry per column (``config`` has ``column``, ``method``,
    ``threshold``; ``value`` is the drift score); ``tests`` holds one test per ``ValueDrift``,
    linked by ``metric_config.metric_id``, with ``status`` "FAIL" when drift was detected.
    """
    status_by_metric = {
        test["metric_config"]["metric_id"]: test["status"]
        for test in snapshot_dict["tests"]
        if test.get("id") == "drift"
    }
    columns: dict[str, dict[str, Any]] = {}
    for metric in snapshot_dict["metrics"]:
        config = metric.get("config", {})
        if not str(config.get("type", "")).endswith(":ValueDrift"):
            continue
        score = float(metric["value"])
        threshold = float(config["threshold"])
        status = status_by_metric.get(metric["id"])
        drifted = status == "FAIL" if status in ("FAIL", "SUCCESS") else score >= threshold
        columns[config["column"]] = {
            "drifted": bool(drifted),
            "method": str(config["method"]),
            "score": score,
            "threshold": threshold,
        }
    return columns


def _lists(frame: pd.DataFrame) -> pd.Series | None:
    """The unit each row was drawn with, in :func:`_prepare`'s row order: its user (a reference
    holds one list per user; a week's sample, every list the user was served, which are not
    independent of each other either), else its request; None when neither column is there."""
    for column in ("user_id", "request_id"):
        if column in frame.columns:
            return frame[column].reset_index(drop=True)
    return None


def run_drift_report(
    current: pd.DataFrame,
    reference: pd.DataFrame,
    out_dir: Path,
    name: str,
    *,
    drift_share: float = 0.5,
    timestamp: datetime | None = None,
    html: bool = True,
) -> DriftResult:
    """Compare ``current`` (served) with ``reference`` (training) column by column.

    Compares every column present in both frames except ``user_id``, ``item_id`` and
    ``request_id``; columns that are entirely missing in either frame are skipped. Writes
    ``out_dir/{name}.json`` and, unless ``html`` is false, ``out_dir/{name}.html``; the JSON is
    ``Snapshot.dumps()`` and loads back with ``evidently.core.report.Snapshot.load(path)`` (or
    ``Snapshot.loads(text)``).

    Raises ValueError when the frames have no column to compare.
    """
    cur, ref, numerical, categorical = _prepare(current, reference)
    if not numerical and not categorical:
        raise ValueError("no comparable (non-id, non-empty, shared) columns to drift-test")

    os.environ.setdefault("DO_NOT_TRACK", "1")
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(numerical_columns=numerical, categorical_columns=categorical)
    preset = DataDriftPreset(
        drift_share=drift_share,
        num_method=NUM_METHOD,
        cat_method=CAT_METHOD,
        num_threshold=NUM_THRESHOLD,
        cat_threshold=CAT_THRESHOLD,
    )
    snapshot = Report([preset], include_tests=True).run(
        Dataset.from_pandas(cur, data_definition=definition),  # current first
        Dataset.from_pandas(ref, data_definition=definition),
        timestamp=timestamp,
    )

    columns = _column_verdicts(snapshot.dict())
    missing = set(numerical + categorical) - columns.keys()
    if missing:
        raise RuntimeError(f"Evidently returned no drift verdict for {sorted(missing)}")
    # Evidently's verdict is the distance against the threshold; the column drifts only when that
    # distance is also beyond the sampling noise of samples this size (monitoring.drift_noise).
    cur_groups, ref_groups = _lists(current), _lists(reference)
    for column, verdict in columns.items():
        verdict["over_threshold"] = verdict["drifted"]
        verdict["noise_p_value"] = None
        if verdict["over_threshold"]:
            kind = "numerical" if column in numerical else "categorical"
            verdict["noise_p_value"] = noise_p_value(
                kind, ref[column], cur[column], ref_groups, cur_groups
            )
            verdict["drifted"] = verdict["noise_p_value"] < NOISE_ALPHA
    drifted = sum(1 for verdict in columns.values() if verdict["drifted"])
    share = drifted / len(columns)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    html_path = out_dir / f"{name}.html" if html else None
    json_path = out_dir / f"{name}.json"
    if html_path is not None:
        snapshot.save_html(str(html_path))  # a Path is silently ignored: only str is written
    json_path.write_text(snapshot.dumps(), encoding="utf-8")

    return DriftResult(
        drift_share=share,
        drifted_columns=drifted,
        total_columns=len(columns),
        dataset_drift=share >= drift_share,
        columns=columns,
        html_path=html_path,
        json_path=json_path,
    )
