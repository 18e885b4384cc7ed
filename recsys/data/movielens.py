"""MovieLens readers: ml-latest-small (CSV with header) and ml-100k (u.data / u.item / u.user)."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from recsys.data.parsing import (
    check_duplicates,
    check_known,
    parse_float,
    parse_rating,
    parse_timestamp,
    read_table,
    require_nonempty,
)
from recsys.data.schema import DataFormatError, Dataset

_YEAR = re.compile(r"\((\d{4})\)\s*$")
ML100K_GENRES = [
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
    "Sci-Fi", "Thriller", "War", "Western",
]  # fmt: skip


def _year(title: str) -> int | None:
    match = _YEAR.search(title or "")
    return int(match.group(1)) if match else None


def _interactions(frame: pd.DataFrame, path: Path, user: str, item: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": require_nonempty(frame, user, path),
            "item_id": require_nonempty(frame, item, path),
            "rating": parse_rating(frame, "rating", path),
            "occurred_at": parse_timestamp(frame, "timestamp", path),
        }
    )


def read_ml_latest_small(directory: Path) -> Dataset:
    """`ratings.csv` (userId,movieId,rating,timestamp) and `movies.csv` (movieId,title,genres)."""
    movies_path, ratings_path = directory / "movies.csv", directory / "ratings.csv"
    movies = read_table(movies_path, required=["movieId", "title", "genres"])
    movie_ids = require_nonempty(movies, "movieId", movies_path)
    check_duplicates(movies, ["movieId"], movies_path)
    genres = [[] if g in ("", "(no genres listed)") else g.split("|") for g in movies["genres"]]
    items = pd.DataFrame(
        {
            "item_id": movie_ids,
            "title": movies["title"],
            "genres": genres,
            "attributes": [{"year": _year(t)} for t in movies["title"]],
        }
    )

    ratings = read_table(ratings_path, required=["userId", "movieId", "rating", "timestamp"])
    interactions = _interactions(ratings, ratings_path, "userId", "movieId")
    check_known(ratings.assign(movieId=interactions["item_id"]), "movieId",
                pd.Index(items["item_id"]), ratings_path, "movies.csv")  # fmt: skip
    users = pd.DataFrame({"user_id": pd.unique(interactions["user_id"])})
    users["attributes"] = [{} for _ in range(len(users))]
    return Dataset("ml-latest-small", users, items, interactions, ratings_path)


def read_ml_100k(directory: Path) -> Dataset:
    """`u.data` (tab: user, item, rating, timestamp), `u.item` (pipe, latin-1, 19 genre flags)
    and `u.user` (pipe: user, age, gender, occupation, zip)."""
    data_path, item_path, user_path = (
        directory / "u.data",
        directory / "u.item",
        directory / "u.user",
    )
    ratings = read_table(data_path, sep="\t", names=["user", "item", "rating", "timestamp"])
    interactions = _interactions(ratings, data_path, "user", "item")

    item_cols = ["item", "title", "release_date", "video_release_date", "url", *ML100K_GENRES]
    raw_items = read_table(item_path, sep="|", names=item_cols, encoding="latin-1")
    item_ids = require_nonempty(raw_items, "item", item_path)
    check_duplicates(raw_items, ["item"], item_path)
    flags = raw_items[ML100K_GENRES]
    bad = ~flags.isin(["0", "1"]).all(axis=1)
    if bad.any():
        row = raw_items.loc[bad].iloc[0]
        raise DataFormatError(item_path, "genre flags must be 0 or 1", line=int(row["_line"]))
    genres = [
        [g for g, flag in zip(ML100K_GENRES, row, strict=True) if flag == "1" and g != "unknown"]
        for row in flags.itertuples(index=False)
    ]
    items = pd.DataFrame(
        {
            "item_id": item_ids,
            "title": raw_items["title"],
            "genres": genres,
            "attributes": [
                {"year": _year(t), "release_date": d or None}
                for t, d in zip(raw_items["title"], raw_items["release_date"], strict=True)
            ],
        }
    )
    check_known(ratings.assign(item=interactions["item_id"]), "item",
                pd.Index(items["item_id"]), data_path, "u.item")  # fmt: skip

    user_cols = ["user", "age", "gender", "occupation", "zip"]
    raw_users = read_table(user_path, sep="|", names=user_cols)
    user_ids = require_nonempty(raw_users, "user", user_path)
    check_duplicates(raw_users, ["user"], user_path)
    ages = parse_float(raw_users, "age", user_path)
    users = pd.DataFrame(
        {
            "user_id": user_ids,
            "attributes": [
                {"age": int(a), "gender": g, "occupation": o}
                for a, g, o in zip(ages, raw_users["gender"], raw_users["occupation"], strict=True)
            ],
        }
    )
    check_known(ratings.assign(user=interactions["user_id"]), "user",
                pd.Index(users["user_id"]), data_path, "u.user")  # fmt: skip
    return Dataset("ml-100k", users, items, interactions, data_path)
