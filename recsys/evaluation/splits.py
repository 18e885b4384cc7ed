"""Train/test splits of an interactions frame (``user_id, item_id, rating, occurred_at``).

Every function returns ``(train, test)`` with the input's columns and a fresh index. The test
frame is then *evaluable* by a collaborative ranker, so these rows are dropped from it:

- rows whose user or item does not appear in train (nothing learned about them; only possible
  for the temporal split and explicit files, and for items in the random split);
- rows whose (user, item) pair is already in train (rankers exclude seen items, so those
  could never be recommended);
- rows repeating an earlier test row's (user, item) pair (relevance is a set: the repeat adds
  nothing to any metric, and counting it would overstate the test rows scored against).

The number of rows dropped for each reason is kept in ``test.attrs["dropped"]`` as
``{"unknown_user": n, "unknown_item": n, "seen_pair": n, "repeated_pair": n}`` (applied in that
order). A split that leaves train or test empty raises :class:`ValueError`.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from recsys.data.generic_csv import read_interactions_csv

PROTOCOLS = ("temporal", "random")


def _check_ratio(test_ratio: float) -> None:
    if not 0.0 < test_ratio < 1.0:
        raise ValueError(f"test_ratio must be between 0 and 1 (exclusive), got {test_ratio!r}")


def _evaluable(train: pd.DataFrame, test: pd.DataFrame, what: str) -> pd.DataFrame:
    """``test`` without unknown users, unknown items, pairs seen in train and repeated pairs
    (counts in attrs)."""
    dropped: dict[str, int] = {}
    unknown_user = ~test["user_id"].isin(pd.unique(train["user_id"]))
    dropped["unknown_user"] = int(unknown_user.sum())
    test = test[~unknown_user]
    unknown_item = ~test["item_id"].isin(pd.unique(train["item_id"]))
    dropped["unknown_item"] = int(unknown_item.sum())
    test = test[~unknown_item]
    seen = pd.MultiIndex.from_frame(train[["user_id", "item_id"]])
    seen_pair = pd.MultiIndex.from_frame(test[["user_id", "item_id"]]).isin(seen)
    dropped["seen_pair"] = int(seen_pair.sum())
    test = test[~seen_pair]
    repeated = test.duplicated(["user_id", "item_id"], keep="first").to_numpy()
    dropped["repeated_pair"] = int(repeated.sum())
    test = test[~repeated].reset_index(drop=True)
    if train.empty:
        raise ValueError(f"{what}: no training rows")
    if test.empty:
        raise ValueError(f"{what}: no evaluable test rows left (dropped {dropped})")
    test.attrs["dropped"] = dropped
    return test


def split_at_time(
    interactions: pd.DataFrame,
    test_ratio: float = 0.2,
    cutoff: pd.Timestamp | datetime | str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Timestamp]:
    """(rows before the cut-off, every row at or after it, the cut-off), nothing filtered.

    ``cutoff`` defaults to the ``1 - test_ratio`` quantile of ``occurred_at``, so about
    ``test_ratio`` of the rows fall after it. A naive ``cutoff`` is taken as UTC."""
    _check_ratio(test_ratio)
    occurred = interactions["occurred_at"]
    if cutoff is None:
        when = pd.Timestamp(occurred.quantile(1.0 - test_ratio))
    else:
        when = pd.Timestamp(cutoff)
        if when.tzinfo is None:
            when = when.tz_localize("UTC")
    before = (occurred < when).to_numpy()
    return (
        interactions[before].reset_index(drop=True),
        interactions[~before].reset_index(drop=True),
        when,
    )


def temporal_split(
    interactions: pd.DataFrame,
    test_ratio: float = 0.2,
    cutoff: pd.Timestamp | datetime | str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One global time cut-off (:func:`split_at_time`): train = rows before it, test = the
    evaluable rows at or after it (see the module docstring). Every train timestamp is strictly
    earlier than every test timestamp."""
    train, later, when = split_at_time(interactions, test_ratio, cutoff)
    return train, _evaluable(train, later, f"temporal split at {when.isoformat()}")


def random_split(
    interactions: pd.DataFrame, test_ratio: float = 0.25, seed: int = 42
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-user stratified random split (microsoft/recommenders ``python_stratified_split``).

    A user with n ≥ 2 interactions sends round(test_ratio · n) of them (halves round up), chosen
    at random, to test, clipped to [1, n − 1] so each such user has at least one test and one
    train row (recommenders itself may give a small user no test row); a user with a single
    interaction stays entirely in train. The result depends only on the rows and ``seed``, not
    on their order in the frame.
    """
    _check_ratio(test_ratio)
    keys = [c for c in ("user_id", "occurred_at", "item_id", "rating") if c in interactions]
    ordered = interactions.sort_values(keys, kind="mergesort").reset_index(drop=True)
    shuffled = ordered.assign(_key=np.random.default_rng(seed).random(len(ordered)))
    position = shuffled.groupby("user_id", sort=False)["_key"].rank(method="first") - 1
    size = shuffled.groupby("user_id", sort=False)["user_id"].transform("size")
    wanted = np.floor(size * test_ratio + 0.5)
    n_test = np.where(size >= 2, np.minimum(np.maximum(wanted, 1), size - 1), 0)
    is_test = (position < n_test).to_numpy()
    train = ordered[~is_test].reset_index(drop=True)
    test = _evaluable(train, ordered[is_test], f"random split (seed {seed})")
    return train, test


def validation_split(
    train: pd.DataFrame, protocol: str, test_ratio: float, seed: int = 42
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Carve ``(fit, validation)`` out of the *training* rows with the same protocol as the
    outer split, for tuning hyper-parameters without looking at the test rows."""
    if protocol == "temporal":
        return temporal_split(train, test_ratio)
    if protocol == "random":
        return random_split(train, test_ratio, seed)
    raise ValueError(f"protocol must be one of {list(PROTOCOLS)}, got {protocol!r}")


def read_split_files(
    train_path: Path | str, test_path: Path | str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Explicit train and test CSV files (header ``user,item,rating,timestamp``; the aliases of
    :mod:`recsys.data.generic_csv` are accepted). A malformed file raises ``DataFormatError``
    naming the file and line; the test rows are filtered as in the module docstring."""
    train = read_interactions_csv(Path(train_path)).interactions
    test = read_interactions_csv(Path(test_path)).interactions
    return train, _evaluable(train, test, f"{train_path} / {test_path}")
