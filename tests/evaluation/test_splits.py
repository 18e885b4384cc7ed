"""Train/test splits: no leakage, per-user proportions, determinism, temporal order, files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys.data.schema import DataFormatError
from recsys.evaluation.splits import (
    random_split,
    read_split_files,
    temporal_split,
    validation_split,
)

START = pd.Timestamp("2026-01-01", tz="UTC")
NOTHING_DROPPED = {"unknown_user": 0, "unknown_item": 0, "seen_pair": 0, "repeated_pair": 0}


def make_interactions(n_users: int = 60, seed: int = 0) -> pd.DataFrame:
    """Users with 1–40 distinct items each, at random times over 100 days."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(n_users):
        n = 1 if user % 10 == 0 else int(rng.integers(2, 41))  # every 10th user has one row
        for item in rng.choice(80, size=n, replace=False):
            rows.append((f"u{user}", f"i{item}", float(rng.integers(1, 6)),
                         START + pd.Timedelta(minutes=int(rng.integers(0, 144_000)))))  # fmt: skip
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "occurred_at"])


def pairs(frame: pd.DataFrame) -> set[tuple[str, str]]:
    return set(zip(frame["user_id"], frame["item_id"], strict=True))


# -- random ----------------------------------------------------------------------------------
def test_random_split_has_no_overlap_and_loses_only_unknown_items() -> None:
    data = make_interactions()
    train, test = random_split(data, test_ratio=0.25, seed=42)
    assert not pairs(train) & pairs(test)
    assert set(test["item_id"]) <= set(train["item_id"])
    assert set(test["user_id"]) <= set(train["user_id"])
    assert len(train) + len(test) + test.attrs["dropped"]["unknown_item"] == len(data)
    assert list(train.columns) == list(data.columns) == list(test.columns)


def test_random_split_proportions_per_user() -> None:
    data = make_interactions()
    ratio = 0.25
    train, test = random_split(data, test_ratio=ratio, seed=1)
    assert test.attrs["dropped"] == NOTHING_DROPPED
    n_train = train.groupby("user_id").size()
    n_test = test.groupby("user_id").size().reindex(n_train.index, fill_value=0)
    total = n_train + n_test
    for user, n in total.items():
        if n == 1:
            assert n_test[user] == 0, user
        else:
            assert 1 <= n_test[user] <= n - 1, user
            assert abs(n_test[user] - ratio * n) <= 0.5 + 1e-9 or n_test[user] == 1, user
    assert abs(len(test) / len(data) - ratio) < 0.03


def test_random_split_small_users_get_one_test_row_even_at_a_small_ratio() -> None:
    # u2..u5 have 2..5 rows: round(0.1 · n) = 0, yet each must send exactly one row to test;
    # c1 and c2 hold all items so no test item is unknown to train.
    users = [("u2", 2), ("u3", 3), ("u4", 4), ("u5", 5), ("c1", 5), ("c2", 5)]
    rows = [(u, f"i{j}", 1.0, START + pd.Timedelta(hours=j)) for u, n in users for j in range(n)]
    data = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "occurred_at"])
    train, test = random_split(data, test_ratio=0.1, seed=0)
    assert test.attrs["dropped"] == NOTHING_DROPPED
    assert test.groupby("user_id").size().to_dict() == {u: 1 for u, _ in users}
    assert train.groupby("user_id").size().to_dict() == {u: n - 1 for u, n in users}


def test_random_split_single_interaction_users_stay_in_train() -> None:
    data = make_interactions()
    singles = data.groupby("user_id").size().loc[lambda s: s == 1].index
    assert len(singles) >= 5
    train, test = random_split(data, seed=3)
    assert set(singles) <= set(train["user_id"])
    assert not set(singles) & set(test["user_id"])


def test_random_split_is_deterministic_per_seed() -> None:
    data = make_interactions()
    train_a, test_a = random_split(data, seed=42)
    train_b, test_b = random_split(data.sample(frac=1.0, random_state=5), seed=42)  # any order
    pd.testing.assert_frame_equal(train_a, train_b)
    pd.testing.assert_frame_equal(test_a, test_b)
    _, test_c = random_split(data, seed=43)
    assert pairs(test_a) != pairs(test_c)


def test_random_split_refuses_bad_ratio() -> None:
    with pytest.raises(ValueError, match="test_ratio"):
        random_split(make_interactions(), test_ratio=1.0)


# -- temporal --------------------------------------------------------------------------------
def test_temporal_split_orders_train_before_test() -> None:
    data = make_interactions()
    train, test = temporal_split(data, test_ratio=0.2)
    assert train["occurred_at"].max() < test["occurred_at"].min()
    assert not pairs(train) & pairs(test)
    assert set(test["user_id"]) <= set(train["user_id"])
    assert set(test["item_id"]) <= set(train["item_id"])
    dropped = sum(test.attrs["dropped"].values())
    assert len(train) + len(test) + dropped == len(data)
    assert abs((len(test) + dropped) / len(data) - 0.2) < 0.01  # before filtering


def test_temporal_split_drops_cold_users_cold_items_seen_and_repeated_pairs() -> None:
    t = [START + pd.Timedelta(days=d) for d in range(7)]
    data = pd.DataFrame(
        {
            "user_id": ["a", "a", "b", "a", "c", "a", "b", "b"],
            "item_id": ["x", "y", "x", "z", "x", "x", "y", "y"],
            "rating": [5.0] * 8,
            "occurred_at": [t[0], t[1], t[2], t[3], t[4], t[5], t[5], t[6]],
        }
    )
    train, test = temporal_split(data, cutoff=t[3])
    assert len(train) == 3 and (train["occurred_at"] < t[3]).all()
    # at/after t3: (a,z) unknown item, (c,x) unknown user, (a,x) seen in train, (b,y) kept
    # once: its repeat at t6 would count as a second test row for one relevant item
    assert pairs(test) == {("b", "y")} and len(test) == 1
    assert test.attrs["dropped"] == dict.fromkeys(NOTHING_DROPPED, 1)


def test_temporal_split_naive_cutoff_is_utc_and_empty_side_is_an_error() -> None:
    data = make_interactions()
    cutoff = START + pd.Timedelta(days=50)
    train, _ = temporal_split(data, cutoff=cutoff.tz_localize(None))
    assert (train["occurred_at"] < cutoff).all()
    with pytest.raises(ValueError, match="no training rows"):
        temporal_split(data, cutoff=START)


# -- validation and files ----------------------------------------------------------------
def test_validation_split_reuses_the_protocol_on_train_only() -> None:
    data = make_interactions()
    train, test = random_split(data, seed=42)
    fit, valid = validation_split(train, "random", 0.25, seed=42)
    expected_fit, expected_valid = random_split(train, 0.25, 42)
    pd.testing.assert_frame_equal(fit, expected_fit)
    pd.testing.assert_frame_equal(valid, expected_valid)
    assert pairs(fit) | pairs(valid) <= pairs(train)
    assert not (pairs(fit) | pairs(valid)) & pairs(test)

    train, _ = temporal_split(data, 0.2)
    fit, valid = validation_split(train, "temporal", 0.2, seed=0)
    assert fit["occurred_at"].max() < valid["occurred_at"].min()
    assert valid["occurred_at"].max() <= train["occurred_at"].max()
    with pytest.raises(ValueError, match="protocol"):
        validation_split(train, "files", 0.2, seed=0)


def test_read_split_files(tmp_path: Path) -> None:
    (tmp_path / "train.csv").write_text(
        "user,item,rating,timestamp\n1,10,4,1700000000\n1,11,3,1700000100\n2,10,5,1700000200\n"
    )
    (tmp_path / "test.csv").write_text(
        "user,item,rating,timestamp\n1,12,4,1700001000\n2,11,2,1700001100\n3,10,1,1700001200\n"
    )
    (tmp_path / "bad.csv").write_text("user,item,rating,timestamp\n1,10,four,1700000000\n")
    train, test = read_split_files(tmp_path / "train.csv", tmp_path / "test.csv")
    assert list(train.columns) == ["user_id", "item_id", "rating", "occurred_at"]
    assert len(train) == 3
    assert str(train["occurred_at"].dt.tz) == "UTC"
    # (1,12) unknown item and (3,10) unknown user are dropped
    assert pairs(test) == {("2", "11")}
    assert test.attrs["dropped"] == {**NOTHING_DROPPED, "unknown_user": 1, "unknown_item": 1}
    with pytest.raises(DataFormatError, match=r"bad\.csv, line 2"):
        read_split_files(tmp_path / "train.csv", tmp_path / "bad.csv")
