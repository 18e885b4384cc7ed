"""The feature-table computation on both engines, side by side: pandas and PySpark.

    .venv/bin/python benchmarks/spark_features.py [--runs 3] [--users 20000] [--master local[2]]

Times `recsys features build`'s computation step (``compute_feature_frames``: both feature tables
from the interactions) on ml-latest-small (``RECSYS_DATASET_PATH``) and on a larger synthetic set
(``--users`` users, 50 interactions each on average, over a year), the median of ``--runs`` runs
per engine, and checks that both engines' frames are equal. Reading Postgres and the COPY into the
tables are shared by both engines and left out. The Spark session is started once, before the
runs (its start-up time is printed apart); the first Spark run, which warms the JVM, is not
counted. Needs pyspark (``pip install -e '.[spark]'``); no servers.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import pandas as pd
from rich.console import Console
from rich.table import Table

from recsys.config import Settings
from recsys.data.movielens import read_ml_latest_small
from recsys.data.schema import Dataset
from recsys.data.synthetic import SyntheticConfig, generate_synthetic
from recsys.features.build import compute_feature_frames
from recsys.features.spark_job import spark_session


def _median_seconds(run: Callable[[], object], runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def _equal(pandas_frames: object, spark_frames: object) -> bool:
    for want, have, key in zip(pandas_frames, spark_frames, ("user_id", "item_id"), strict=True):  # type: ignore[call-overload]
        try:
            pd.testing.assert_frame_equal(
                have.sort_values([key, "event_timestamp"], ignore_index=True),
                want.sort_values([key, "event_timestamp"], ignore_index=True),
                rtol=1e-9,
            )
        except AssertionError:
            return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--master", default=None, help="default: RECSYS_SPARK_MASTER")
    args = parser.parse_args()

    settings = Settings()
    synthetic = SyntheticConfig(
        n_users=args.users, n_items=2_000, mean_interactions_per_user=50, days=365
    )
    datasets: list[tuple[str, Callable[[], Dataset]]] = [
        ("ml-latest-small", lambda: read_ml_latest_small(settings.dataset_path)),
        (f"synthetic {args.users:,} users", lambda: generate_synthetic(synthetic)),
    ]
    console = Console(width=200)
    started = time.perf_counter()
    with spark_session(args.master or settings.spark_master) as spark:
        spark.sparkContext.setLogLevel("ERROR")
        console.print(
            f"Spark {spark.version} on {spark.sparkContext.master}: "
            f"session started in {time.perf_counter() - started:.1f} s"
        )
        table = Table(title=f"feature tables, median of {args.runs} runs (seconds)")
        for column in ("dataset", "interactions", "user rows", "item rows", "pandas", "spark"):
            table.add_column(column, justify="left" if column == "dataset" else "right")
        table.add_column("spark / pandas", justify="right")
        table.add_column("equal", justify="center")
        for name, load in datasets:
            data = load()
            as_of = data.interactions["occurred_at"].max().to_pydatetime() + timedelta(hours=1)
            user_ids = pd.Index(data.users["user_id"])

            def compute(
                engine: str, data: Dataset = data, as_of: datetime = as_of, ids: pd.Index = user_ids
            ) -> object:
                return compute_feature_frames(
                    data.interactions,
                    data.items,
                    ids,
                    as_of,
                    engine,  # type: ignore[arg-type]
                )

            pandas_s, pandas_frames = _median_seconds(lambda: compute("pandas"), args.runs)
            compute("spark")  # JIT and class loading, once per dataset
            spark_s, spark_frames = _median_seconds(lambda: compute("spark"), args.runs)
            users, items = pandas_frames  # type: ignore[misc]
            table.add_row(
                name, f"{len(data.interactions):,}", f"{len(users):,}", f"{len(items):,}",
                f"{pandas_s:.2f}", f"{spark_s:.2f}", f"{spark_s / pandas_s:.1f}×",
                "yes" if _equal(pandas_frames, spark_frames) else "[red]NO[/]",
            )  # fmt: skip
    console.print(table)


if __name__ == "__main__":
    main()
