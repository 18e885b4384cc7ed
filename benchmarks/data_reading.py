"""How long reading and validating a dataset takes (what `recsys data load` does before writing).

    .venv/bin/python benchmarks/data_reading.py [--rows 1000000] [--rounds 5] [--blank-line]

Times ``read_dataset`` on ml-latest-small (``RECSYS_DATASET_PATH``) and on a generated generic
CSV of ``--rows`` interactions (seeded; half Unix seconds, half ISO-8601 timestamps; with
``--blank-line`` a blank line at its end, which code before 2026-12-03 refused), and prints the
median and spread of ``--rounds`` runs each. Nothing is written to a database. To compare two
versions of the code, run it from each checkout (``PYTHONPATH=<other checkout>``) in one session.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from recsys.config import Settings
from recsys.data.readers import read_dataset


def generic_csv(path: Path, rows: int, blank_line: bool) -> Path:
    rng = np.random.default_rng(7)
    seconds = rng.integers(1_500_000_000, 1_700_000_000, rows)
    iso = pd.to_datetime(seconds, unit="s", utc=True).strftime("%Y-%m-%dT%H:%M:%SZ")
    frame = pd.DataFrame(
        {
            "user": rng.integers(0, rows // 50 + 1, rows).astype(str),
            "item": rng.zipf(1.3, rows).clip(max=50_000).astype(str),
            "rating": rng.integers(1, 6, rows),
            "timestamp": np.where(np.arange(rows) % 2 == 0, seconds.astype(str), iso),
        }
    )
    frame.to_csv(path, index=False)
    if blank_line:
        with path.open("a") as fh:
            fh.write("\n")
    return path


def timed(name: str, path: Path, rounds: int) -> list[float]:
    runs = []
    for _ in range(rounds):
        started = time.perf_counter()
        read_dataset(name, path)
        runs.append(time.perf_counter() - started)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--blank-line", action="store_true", help="end the CSV with a blank line")
    args = parser.parse_args()
    table = Table(title=f"read_dataset, {args.rounds} rounds")
    for column in ("dataset", "rows", "median s", "min s", "max s"):
        table.add_column(column, justify="left" if column == "dataset" else "right")
    with tempfile.TemporaryDirectory() as scratch:
        cases = {
            "movielens": ("movielens", Settings().dataset_path, "100,836"),
            "generic csv": (
                "csv",
                generic_csv(Path(scratch) / "big.csv", args.rows, args.blank_line),
                "",
            ),
        }
        for label, (name, path, rows) in cases.items():
            runs = timed(name, path, args.rounds)
            table.add_row(
                label, rows or f"{args.rows:,}", f"{statistics.median(runs):.2f}",
                f"{min(runs):.2f}", f"{max(runs):.2f}",
            )  # fmt: skip
    Console().print(table)


if __name__ == "__main__":
    main()
