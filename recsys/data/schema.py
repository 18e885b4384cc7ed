"""The in-memory shape every reader produces, and the error a malformed file raises."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

INTERACTION_COLUMNS = ["user_id", "item_id", "rating", "occurred_at"]
#: Explicit ratings the product accepts, from a data file or `POST /v1/events` alike (MovieLens
#: 0.5–5, ml-100k 1–5, 0–10 scales fit; a negative or larger value is a mistake upstream).
RATING_RANGE = (0.0, 10.0)


class DataFormatError(ValueError):
    """A data file is malformed; the message names the file and, where known, the line."""

    def __init__(self, path: Path | str, message: str, line: int | None = None) -> None:
        self.path = Path(path)
        self.line = line
        where = f"{self.path}" + (f", line {line}" if line is not None else "")
        super().__init__(f"{where}: {message}")


@dataclass
class Dataset:
    """Users, items and timestamped interactions, validated and ready to load.

    - ``users``: ``user_id`` (str) + ``attributes`` (dict)
    - ``items``: ``item_id``, ``title`` (str|None), ``genres`` (list[str]), ``attributes`` (dict)
    - ``interactions``: ``user_id``, ``item_id`` (str), ``rating`` (float, NaN when implicit),
      ``occurred_at`` (UTC datetime64)
    - ``source``: the file the interactions were read from (None when generated)
    """

    name: str
    users: pd.DataFrame
    items: pd.DataFrame
    interactions: pd.DataFrame
    source: Path | None = None

    def validate(self) -> None:
        """What every dataset must hold, whichever reader made it. A load replaces all the
        interactions, so a file that holds none (a header, an empty export) would wipe them."""
        if self.interactions.empty:
            raise DataFormatError(self.source or self.name, "no interactions")

    def summary(self) -> dict[str, object]:
        ts = self.interactions["occurred_at"]
        return {
            "dataset": self.name,
            "users": len(self.users),
            "items": len(self.items),
            "interactions": len(self.interactions),
            "from": ts.min().isoformat() if len(ts) else None,
            "until": ts.max().isoformat() if len(ts) else None,
        }
