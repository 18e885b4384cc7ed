"""The item catalogue as the API filters it: genres per item, loaded from Postgres."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
from sqlalchemy import Engine, text


class Catalogue:
    def __init__(self, items: pd.DataFrame) -> None:
        """``items`` has item_id and genres (a list of str per item)."""
        self.item_ids = items["item_id"].astype(str).to_numpy()
        self._genres = {
            str(item): frozenset(g.lower() for g in genres or ())
            for item, genres in zip(items["item_id"], items["genres"], strict=True)
        }
        self._outside: dict[frozenset[str], np.ndarray] = {}

    @classmethod
    def load(cls, engine: Engine) -> Catalogue:
        with engine.connect() as conn:
            items = pd.read_sql_query(text("SELECT item_id, genres FROM items"), conn)
        return cls(items)

    def __contains__(self, item_id: str) -> bool:
        return item_id in self._genres

    def genres(self, item_id: str) -> frozenset[str]:
        return self._genres.get(item_id, frozenset())

    def in_genres(self, item_id: str, wanted: frozenset[str]) -> bool:
        return bool(self.genres(item_id) & wanted)

    def outside_genres(self, genres: Iterable[str]) -> np.ndarray:
        """Items in none of ``genres`` (case-insensitive): what a genre filter excludes."""
        wanted = frozenset(g.lower() for g in genres)
        if wanted not in self._outside:
            self._outside[wanted] = np.array(
                [i for i, g in self._genres.items() if not g & wanted], dtype=object
            )
        return self._outside[wanted]
