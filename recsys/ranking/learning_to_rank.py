"""Training data for learning-to-rank re-rankers (pure pandas, no I/O).

1. :func:`carve_labels` splits the training interactions into a *history* the candidate generator
   is fitted on and *labels* it must predict, per user:
   - ``temporal``: each user's latest ``fraction`` of interactions are labels; the user's cut-off
     is the time of the first of them, and the features of the user's rows are read as of that
     cut-off (point-in-time, so nothing at or after a label's time reaches its row);
   - ``random``: a random ``fraction`` of each user's interactions are labels and every row is
     read as of the end of training — the carve the per-user random evaluation protocol makes,
     so the re-ranker trains on the task it is measured on. Aggregate features as of that time
     would include the label interactions themselves, so a re-ranker trained on a random carve
     reads no store features (only its scorers, fitted on the history): prefer ``temporal``
     wherever time order means something.
2. :func:`candidate_rows` asks the generator for each labelled user's top candidates, and
   :func:`add_trending_rows` adds the items most popular just before the user's cut-off; a
   candidate is positive when it is among the user's labels and negative otherwise (so negatives
   are exactly the items serving would have put in front of the re-ranker).
3. :func:`model_inputs` turns candidate rows plus store features into the numeric matrix the
   booster sees. Each scorer's score enters relative to that user's scores over the whole
   unseen catalogue (standardised, and as a rank), because a generator refitted on all the data
   scores on a different scale than the one fitted on the history — and relative to the whole
   catalogue, not to the candidate list, so an item's features do not depend on which other
   items are being ranked with it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd

from recsys.ranking.base import Ranker

LabelSplit = Literal["temporal", "random"]
ENTITY_COLUMNS = ("user_id", "item_id", "event_timestamp")
ONE_SECOND = pd.Timedelta(seconds=1)


def carve_labels(
    events: pd.DataFrame,
    how: LabelSplit,
    fraction: float,
    min_history: int,
    seed: int,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """(history, labels, cut-off per labelled user). Users with fewer than ``min_history``
    interactions keep them all in the history."""
    if "occurred_at" not in events:
        raise ValueError("learning-to-rank needs interaction timestamps (occurred_at)")
    events = events.sort_values("occurred_at", kind="stable").reset_index(drop=True)
    by_user = events.groupby("user_id", sort=False)
    size = by_user["item_id"].transform("size")
    eligible = size >= min_history
    n_labels = np.maximum(1, np.floor(size * fraction)).astype(int)
    if how == "temporal":
        position = by_user.cumcount()
        first_label = events["occurred_at"].where(eligible & (position == size - n_labels))
        cutoff = first_label.groupby(events["user_id"]).min().dropna()
        user_cutoff = events["user_id"].map(cutoff)
        is_label = user_cutoff.notna() & (events["occurred_at"] >= user_cutoff)
    elif how == "random":
        rng = np.random.default_rng(seed)
        shuffled_rank = (
            pd.Series(rng.random(len(events))).groupby(events["user_id"]).rank(method="first")
        )
        is_label = eligible & (shuffled_rank <= n_labels)
        end = events["occurred_at"].max() + ONE_SECOND
        cutoff = pd.Series(end, index=pd.unique(events.loc[is_label, "user_id"]))
    else:
        raise ValueError(f"unknown label split {how!r}: temporal or random")
    labels = events[is_label].reset_index(drop=True)
    history = events[~is_label].reset_index(drop=True)
    if labels.empty:
        raise ValueError(f"no user has {min_history} or more interactions to carve labels from")
    cutoff.index.name = "user_id"
    return history, labels, cutoff.rename("event_timestamp")


def candidate_rows(generator: Ranker, cutoffs: pd.Series, n: int) -> pd.DataFrame:
    """The generator's top-n unseen items per user, with its score and rank, stamped with the
    user's cut-off (the time the features must be read as of)."""
    frames = []
    for user_id, when in cutoffs.items():
        top = generator.recommend(str(user_id), n)
        frames.append(
            pd.DataFrame(
                {
                    "user_id": str(user_id),
                    "item_id": top.item_ids,
                    "event_timestamp": when,
                    "generator_score": top.scores,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def add_trending_rows(
    rows: pd.DataFrame,
    past_events: pd.DataFrame,
    history: pd.DataFrame,
    n: int,
    half_life_days: float,
) -> pd.DataFrame:
    """``rows`` plus, per user, the n items most popular just before the user's cut-off that
    the user has not seen and ``rows`` does not already hold (candidates a collaborative
    generator misses because too few have seen them yet). An interaction of ``past_events``
    counts 0.5^(age / half-life) at the cut-off, and only if it happened before the cut-off;
    serving asks :class:`~recsys.ranking.popularity.PopularityRanker` with the same half-life,
    which measures ages from the end of training."""
    seconds = epoch_seconds(past_events["occurred_at"])
    order = np.argsort(seconds, kind="stable")
    seconds = seconds[order]
    items, item_ids = pd.factorize(past_events["item_id"].astype(str).to_numpy()[order])
    seen = history["item_id"].astype(str).groupby(history["user_id"].astype(str)).agg(set)
    proposed = rows.groupby("user_id")["item_id"].agg(set)
    users = rows.drop_duplicates("user_id")[["user_id", "event_timestamp"]]
    frames = [rows]
    for user_id, when, when_s in zip(
        users["user_id"],
        users["event_timestamp"],
        epoch_seconds(users["event_timestamp"]),
        strict=True,
    ):
        before = int(np.searchsorted(seconds, when_s, side="left"))
        age_days = (when_s - seconds[:before]) / 86_400.0
        counts = np.bincount(
            items[:before],
            weights=np.power(0.5, age_days / half_life_days),
            minlength=len(item_ids),
        )
        skip = seen.get(user_id, set()) | proposed.get(user_id, set())
        chosen = [
            item_ids[i]
            for i in np.argsort(-counts, kind="stable")[: n + len(skip)]
            if counts[i] > 0 and item_ids[i] not in skip
        ][:n]
        frames.append(
            pd.DataFrame({"user_id": user_id, "item_id": chosen, "event_timestamp": when})
        )
    return pd.concat(frames, ignore_index=True)


def mark_labels(rows: pd.DataFrame, labels: pd.DataFrame) -> pd.Series:
    relevant = pd.MultiIndex.from_frame(labels[["user_id", "item_id"]].astype(str))
    return pd.Series(
        pd.MultiIndex.from_frame(rows[["user_id", "item_id"]]).isin(relevant).astype(np.int32),
        index=rows.index,
    )


def store_feature_columns(features: pd.DataFrame) -> tuple[list[str], list[str]]:
    """(value columns, timestamp columns) of a FeatureService frame, numeric ones only.

    Absolute timestamps (``*_ts``) would let a model learn *when* a row was, which never
    transfers to serving time, so they enter as ages relative to the row's time instead
    (:func:`model_inputs`). Stored ``days_since_*`` values are dropped for the same reason: they
    were measured at the snapshot, which can be long before the row's time."""
    numeric = [
        c
        for c in features.columns
        if c not in ENTITY_COLUMNS
        and pd.api.types.is_numeric_dtype(features[c])
        and not pd.api.types.is_bool_dtype(features[c])
    ]
    times = [c for c in numeric if c.endswith("_ts")]
    values = [c for c in numeric if c not in times and "__days_since_" not in c]
    return values, times


def relative_scores(scorers: Mapping[str, Ranker], rows: pd.DataFrame) -> dict[str, np.ndarray]:
    """For each scorer, ``<name>_score`` (the item's score standardised over the scores of the
    items the user has not seen: (score − mean) / std) and ``<name>_rank`` (1 = the user's best
    unseen item); NaN where the scorer cannot score.

    Relative to the *unseen* catalogue because that is what a recommendation chooses from: the
    same candidate gets the same rank whether the user has seen 20 items or 2,000, so the
    booster cannot tell users apart by how far their seen items push the ranks (which it would
    otherwise memorise, user by user)."""
    out = {}
    for name in scorers:
        out[f"{name}_score"] = np.full(len(rows), np.nan)
        out[f"{name}_rank"] = np.full(len(rows), np.nan)
    item_ids = rows["item_id"].to_numpy()
    for user_id, index in rows.groupby("user_id", sort=False).indices.items():
        for column, values in user_relative_scores(scorers, str(user_id), item_ids[index]).items():
            out[column][index] = values
    return out


def user_relative_scores(
    scorers: Mapping[str, Ranker], user_id: str, item_ids: np.ndarray
) -> dict[str, np.ndarray]:
    """:func:`relative_scores` for one user's items (the serving path: no grouping)."""
    out = {}
    for name, scorer in scorers.items():
        score = np.full(len(item_ids), np.nan)
        rank = np.full(len(item_ids), np.nan)
        every = scorer.score_all(user_id).copy()
        every[scorer.seen_items(user_id)] = np.nan
        finite = np.sort(every[np.isfinite(every)])
        if finite.size:
            positions = scorer._item_index.get_indexer(item_ids)
            mine = np.where(positions >= 0, every[positions], np.nan)
            spread = finite.std()
            score = (mine - finite.mean()) / spread if spread > 0 else np.zeros(len(item_ids))
            # rank 1 = best; items scoring NaN (unknown or already seen) stay NaN
            rank = np.where(
                np.isfinite(mine),
                finite.size - np.searchsorted(finite, mine, side="right") + 1,
                np.nan,
            )
            score = np.where(np.isfinite(mine), score, np.nan)
        out[f"{name}_score"] = score
        out[f"{name}_rank"] = rank
    return out


def model_inputs(
    rows: pd.DataFrame,
    scores: Mapping[str, np.ndarray],
    store_features: pd.DataFrame | None,
    store_columns: Sequence[str],
    time_columns: Sequence[str] = (),
) -> pd.DataFrame:
    """One row per (user, item) in ``rows`` order: the scorers' relative scores
    (:func:`relative_scores`), the store features (NaN where missing), and for each timestamp
    column its age in days at the row's ``event_timestamp`` (``<column>_age_days``)."""
    now_s = epoch_seconds(rows["event_timestamp"])
    available = set(store_features.columns) if store_features is not None else set()
    columns = input_arrays(
        len(rows),
        scores,
        lambda column: store_features[column] if column in available else None,  # type: ignore[index]
        now_s,
        store_columns,
        time_columns,
    )
    return pd.DataFrame(columns, index=rows.index)


def input_arrays(
    n: int,
    scores: Mapping[str, np.ndarray],
    store_column: Callable[[str], pd.Series | None],
    now_s: float | np.ndarray,
    store_columns: Sequence[str],
    time_columns: Sequence[str] = (),
) -> dict[str, np.ndarray]:
    """The columns of :func:`model_inputs` as float arrays (the serving path frames nothing);
    ``store_column(name)`` gives a store column or None when it is missing."""
    columns = {k: np.asarray(v, dtype=np.float64) for k, v in scores.items()}
    missing = np.full(n, np.nan)
    for column in time_columns:
        values = store_column(column)
        columns[f"{column}_age_days"] = (
            missing if values is None else (now_s - _as_float(values)) / 86_400.0
        )
    for column in store_columns:
        values = store_column(column)
        columns[column] = missing if values is None else _as_float(values)
    return columns


def epoch_seconds(when: pd.Series) -> np.ndarray:
    """Seconds since the epoch of timestamps (tz-aware, naive UTC or strings)."""
    if not isinstance(when.dtype, pd.DatetimeTZDtype):
        when = pd.to_datetime(when, utc=True)
    naive = when.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
    return naive.astype("datetime64[ns]").astype(np.int64) / 1e9


def _as_float(values: pd.Series) -> np.ndarray:
    """Numbers as float64, None and anything non-numeric as NaN."""
    array = values.to_numpy()
    try:
        return array.astype(np.float64)  # numeric, or objects that are numbers and None
    except (TypeError, ValueError):
        return pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
