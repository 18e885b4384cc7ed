"""Datasets by name: what `recsys data load --dataset NAME [--path P]` understands."""

from __future__ import annotations

from pathlib import Path

from recsys.data.generic_csv import read_interactions_csv
from recsys.data.movielens import read_ml_100k, read_ml_latest_small
from recsys.data.schema import DataFormatError, Dataset
from recsys.data.synthetic import SyntheticConfig, generate_synthetic

DATASETS = ("synthetic", "movielens", "ml-100k", "csv")


def read_dataset(name: str, path: Path | None = None, *, seed: int = 42) -> Dataset:
    """Read (or generate) a dataset fully in memory and validate it before anything is written."""
    data = _read(name, path, seed)
    data.validate()
    return data


def _read(name: str, path: Path | None, seed: int) -> Dataset:
    if name not in (*DATASETS, "ml-latest-small"):
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    if name == "synthetic":
        return generate_synthetic(SyntheticConfig(seed=seed))
    if path is None:
        raise ValueError(f"dataset {name!r} needs --path")
    if name in ("movielens", "ml-latest-small"):
        return read_ml_latest_small(path)
    if name == "ml-100k":
        return read_ml_100k(path)
    if name == "csv":
        if path.is_dir():
            raise DataFormatError(path, "expected a CSV file, got a directory")
        return read_interactions_csv(path)
    raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
