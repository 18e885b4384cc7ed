"""Evidently's ranking metrics on a week's served lists (one list per request), for the report's
plots and as a cross-check of the project's own numbers (:mod:`monitoring.online_quality`).

Evidently is imported inside the function: it is heavy, and the API never needs it.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

import pandas as pd


def ranking_frame(served: pd.DataFrame, feedback: pd.DataFrame) -> pd.DataFrame:
    """One row per served slot: ``request_id, item_id, rank, target`` (1 = positive feedback on
    that item for that request)."""
    positive = set(map(tuple, feedback[["request_id", "item_id"]].astype(str).to_numpy()))
    frame = served[["request_id", "item_id", "rank"]].astype({"request_id": str, "item_id": str})
    keys = zip(frame["request_id"], frame["item_id"], strict=True)
    return frame.assign(target=[int(key in positive) for key in keys])


def run_quality_report(
    served: pd.DataFrame, feedback: pd.DataFrame, k: int, timestamp: datetime | None = None
) -> tuple[Any, dict]:
    """(Evidently snapshot, {"ndcg", "mrr", "hit_rate"} at k). Lists without feedback count
    (``no_feedback_users=True``), as in the project's own online metrics."""
    os.environ.setdefault("DO_NOT_TRACK", "1")
    from evidently import DataDefinition, Dataset, Report
    from evidently.core.datasets import Recsys
    from evidently.metrics import MRR, NDCG, HitRate

    frame = ranking_frame(served, feedback)
    # Evidently's tables stop at the longest list served and fail when asked for a k beyond it
    # (a week of k=5 requests, or of cold starts, against RECSYS_MONITOR_K=10). Past the
    # longest list nothing changes: every hit is within it, so the metric at k equals the
    # metric at the longest list's length.
    longest = int(frame["rank"].max()) if len(frame) else k
    k = max(1, min(k, longest))
    definition = DataDefinition(
        ranking=[Recsys(user_id="request_id", item_id="item_id", target="target",
                        prediction="rank", recommendations_type="rank")],
        numerical_columns=["rank", "target"],
    )  # fmt: skip
    metrics = {
        "ndcg": NDCG(k=k, no_feedback_users=True),
        "mrr": MRR(k=k, no_feedback_users=True),
        "hit_rate": HitRate(k=k, no_feedback_users=True),
    }
    snapshot = Report(list(metrics.values())).run(
        Dataset.from_pandas(frame, data_definition=definition), None, timestamp=timestamp
    )
    values = {}
    for name, result in zip(metrics, snapshot.dict()["metrics"], strict=True):
        # a per-k table: position i holds the metric at k = i + 1
        series = list(result["value"]["value"].values())
        values[name] = float(series[min(k, len(series)) - 1]) if series else 0.0
    return snapshot, values
