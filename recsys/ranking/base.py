"""THE ranking interface. Every algorithm implements :class:`Ranker`; nothing else is assumed.

Rankers see arrays and frames only: no HTTP, Redis or Postgres. They are chosen by name
(:mod:`recsys.ranking.registry`) and configured by a small pydantic model (``Config``).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol, Self

import numpy as np
import pandas as pd
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict


class RankerConfig(BaseModel):
    """Hyperparameters of one algorithm. Subclass it per ranker; unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class HistoricalFeatures(Protocol):
    """Point-in-time feature values for (user_id, item_id, event_timestamp) rows, read through a
    Feast FeatureService (full feature names, ``view__feature``). A value dated after a row's
    event_timestamp must never reach that row. Implemented by
    :class:`recsys.training.feast_features.FeastFeatureSource`."""

    def historical(self, rows: pd.DataFrame, feature_service: str) -> pd.DataFrame: ...


@dataclass(frozen=True)
class InteractionData:
    """Training interactions as a users × items matrix plus the id ↔ index mappings.

    ``events`` keeps the raw rows (user_id, item_id, occurred_at, optional rating) for rankers
    that need time; ``features`` gives point-in-time store features to rankers that learn from
    them (the LightGBM re-ranker). Both are optional: the collaborative rankers need neither.
    """

    user_ids: np.ndarray  # str, index → external id
    item_ids: np.ndarray  # str
    matrix: sp.csr_matrix  # users × items, number of interactions per pair
    events: pd.DataFrame | None = None
    features: HistoricalFeatures | None = None

    @classmethod
    def from_frame(
        cls,
        interactions: pd.DataFrame,
        items: Iterable[str] = (),
        features: HistoricalFeatures | None = None,
    ) -> InteractionData:
        """``interactions`` has user_id and item_id columns (occurred_at and rating when known);
        ``items`` adds catalogue items nobody interacted with (so they can still be scored, as
        unpopular)."""
        user_codes, user_ids = pd.factorize(interactions["user_id"].astype(str), sort=True)
        all_items = pd.Index(pd.unique(np.concatenate([
            interactions["item_id"].astype(str).to_numpy(), np.asarray(list(items), dtype=str)
        ]))).sort_values()  # fmt: skip
        item_codes = all_items.get_indexer(interactions["item_id"].astype(str))
        matrix = sp.csr_matrix(
            (np.ones(len(interactions), dtype=np.float32), (user_codes, item_codes)),
            shape=(len(user_ids), len(all_items)),
        )
        matrix.sum_duplicates()
        events = interactions.assign(
            user_id=interactions["user_id"].astype(str), item_id=interactions["item_id"].astype(str)
        ).reset_index(drop=True)
        return cls(
            np.asarray(user_ids, dtype=str),
            np.asarray(all_items, dtype=str),
            matrix,
            events,
            features,
        )

    def event_times(self) -> np.ndarray:
        """Unix seconds of each event, in ``events`` order (needs an occurred_at column)."""
        if self.events is None or "occurred_at" not in self.events:
            raise ValueError("these interactions carry no occurred_at timestamps")
        times = pd.to_datetime(self.events["occurred_at"], utc=True)
        return (times - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy()

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)


@dataclass(frozen=True)
class Recommendations:
    item_ids: np.ndarray
    scores: np.ndarray


class Ranker(ABC):
    """Fit on interactions; score candidate items for a user; recommend top-k; save and load.

    Subclasses set ``name`` and ``Config`` and implement :meth:`_fit`, :meth:`_score_indices`,
    :meth:`_state` and :meth:`_restore`. Learned attributes end in ``_``.
    """

    name: ClassVar[str]
    Config: ClassVar[type[RankerConfig]] = RankerConfig
    #: True when :meth:`score` needs the FeatureService's features (the serving path fetches
    #: them for the candidates; offline evaluation reads them point-in-time).
    uses_store_features: ClassVar[bool] = False
    #: Settings that replace the defaults under the random evaluation protocol. The defaults
    #: serve a forecast (training for serving always is one, and so is the temporal protocol);
    #: a random holdout spreads its rows over all of time, where e.g. a time decay is wrong.
    random_protocol_params: ClassVar[dict[str, Any]] = {}

    def __init__(self, config: RankerConfig | dict[str, Any] | None = None) -> None:
        if config is None:
            config = self.Config()
        elif isinstance(config, dict):
            config = self.Config(**config)
        self.config = config

    # -- the interface -------------------------------------------------------------------
    @property
    def feature_service(self) -> str:
        """The Feast FeatureService whose features this ranker reads (and the API logs)."""
        return f"{self.name}_v1"

    def fit(self, data: InteractionData) -> Self:
        self.user_ids_ = data.user_ids
        self.item_ids_ = data.item_ids
        self.seen_ = data.matrix.tocsr()
        self.item_popularity_ = np.asarray(data.matrix.sum(axis=0)).ravel().astype(np.float64)
        self._user_index = pd.Index(self.user_ids_)
        self._item_index = pd.Index(self.item_ids_)
        self._fit(data)
        return self

    def knows_user(self, user_id: str) -> bool:
        return self._user_index.get_indexer([user_id])[0] >= 0

    def score(
        self, user_id: str, item_ids: Sequence[str], features: pd.DataFrame | None = None
    ) -> np.ndarray:
        """Scores for ``item_ids`` in order; NaN where the ranker cannot score (unknown user or
        item). ``features`` (one row per item, Feast full feature names) is for rankers that use
        online features; the collaborative ones ignore it."""
        scores = np.full(len(item_ids), np.nan)
        user = self._user_index.get_indexer([user_id])[0]
        items = self._item_index.get_indexer(list(item_ids))
        known = items >= 0
        if known.any():
            scores[known] = self._score_indices(user if user >= 0 else None, items[known])
        return scores

    def recommend(
        self,
        user_id: str,
        k: int,
        *,
        exclude: Iterable[str] = (),
        exclude_seen: bool = True,
    ) -> Recommendations:
        """Top-k items by score, best first, skipping excluded and (optionally) seen items."""
        user = self._user_index.get_indexer([user_id])[0]
        scores = np.asarray(
            self._score_indices(user if user >= 0 else None, np.arange(len(self.item_ids_))),
            dtype=np.float64,
        ).copy()
        scores[np.isnan(scores)] = -np.inf
        if exclude_seen and user >= 0:
            scores[
                self.seen_.indices[self.seen_.indptr[user] : self.seen_.indptr[user + 1]]
            ] = -np.inf
        excluded = self._item_index.get_indexer(list(exclude))
        scores[excluded[excluded >= 0]] = -np.inf
        k = min(k, int(np.isfinite(scores).sum()))
        if k <= 0:
            return Recommendations(np.array([], dtype=str), np.array([]))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return Recommendations(self.item_ids_[top], scores[top])

    def seen_items(self, user_id: str) -> np.ndarray:
        """Indices (``item_ids_`` order) of the items the user interacted with in training."""
        user = self._user_index.get_indexer([user_id])[0]
        if user < 0:
            return np.array([], dtype=np.int64)
        return self.seen_.indices[self.seen_.indptr[user] : self.seen_.indptr[user + 1]]

    def score_all(self, user_id: str) -> np.ndarray:
        """Scores of every training item (``item_ids_`` order); all NaN for an unknown user on
        rankers that need a history."""
        user = self._user_index.get_indexer([user_id])[0]
        return np.asarray(
            self._score_indices(user if user >= 0 else None, np.arange(len(self.item_ids_))),
            dtype=np.float64,
        )

    def candidates(
        self, user_id: str, n: int, *, exclude: Iterable[str] = (), exclude_seen: bool = True
    ) -> Recommendations:
        """The items worth scoring for a user (first stage). A single-stage ranker's candidates
        are its own top-n; a two-stage ranker asks its generator."""
        return self.recommend(user_id, n, exclude=exclude, exclude_seen=exclude_seen)

    def similar_items(self, item_id: str, k: int) -> Recommendations:
        """Items most often interacted with by the same users (cosine of co-occurrence counts);
        empty for an unknown item. Shared by every ranker: it needs only the training matrix."""
        item = self._item_index.get_indexer([item_id])[0]
        if item < 0:
            return Recommendations(np.array([], dtype=str), np.array([]))
        binary = self.seen_.astype(bool).astype(np.float32)
        users = binary[:, [item]]
        co = np.asarray((binary.T @ users).todense()).ravel()
        counts = np.asarray(binary.sum(axis=0)).ravel()
        with np.errstate(divide="ignore", invalid="ignore"):
            scores = co / np.sqrt(counts * counts[item])
        scores[item] = 0.0
        scores[~np.isfinite(scores)] = 0.0
        candidates = np.flatnonzero(scores > 0)
        top = candidates[np.argsort(-scores[candidates], kind="stable")][:k]
        return Recommendations(self.item_ids_[top], scores[top])

    def explain(
        self, user_id: str, item_ids: Sequence[str], features: pd.DataFrame | None = None
    ) -> tuple[pd.DataFrame, pd.DataFrame] | None:
        """(model inputs, per-input contributions to the score) per item, for models that can
        attribute their score; None for the others."""
        return None

    def popular_items(self, k: int, exclude: Iterable[str] = ()) -> Recommendations:
        """Most interacted-with items in the training data: the cold-start fallback."""
        scores = self.item_popularity_.copy()
        excluded = self._item_index.get_indexer(list(exclude))
        scores[excluded[excluded >= 0]] = -np.inf
        top = np.argsort(-scores, kind="stable")[: min(k, len(scores))]
        top = top[np.isfinite(scores[top])]
        return Recommendations(self.item_ids_[top], scores[top])

    # -- persistence: plain npz + json, no pickle ------------------------------------------
    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        meta = {"ranker": self.name, "config": self.config.model_dump(mode="json")}
        (directory / "ranker.json").write_text(json.dumps(meta, indent=2))
        seen = self.seen_
        np.savez(
            directory / "ranker.npz",
            user_ids=self.user_ids_,
            item_ids=self.item_ids_,
            seen_data=seen.data,
            seen_indices=seen.indices,
            seen_indptr=seen.indptr,
            item_popularity=self.item_popularity_,
            **{f"state_{key}": value for key, value in self._state().items()},
        )
        self._save_files(directory)

    @classmethod
    def load(cls, directory: Path) -> Self:
        meta = json.loads((directory / "ranker.json").read_text())
        if meta.get("ranker") != cls.name:
            raise ValueError(f"{directory} holds a {meta.get('ranker')!r} ranker, not {cls.name!r}")
        ranker = cls(meta["config"])
        with np.load(directory / "ranker.npz", allow_pickle=False) as arrays:
            ranker.user_ids_ = arrays["user_ids"]
            ranker.item_ids_ = arrays["item_ids"]
            ranker.seen_ = sp.csr_matrix(
                (arrays["seen_data"], arrays["seen_indices"], arrays["seen_indptr"]),
                shape=(len(ranker.user_ids_), len(ranker.item_ids_)),
            )
            ranker.item_popularity_ = arrays["item_popularity"]
            ranker._user_index = pd.Index(ranker.user_ids_)
            ranker._item_index = pd.Index(ranker.item_ids_)
            ranker._restore({k[6:]: arrays[k] for k in arrays.files if k.startswith("state_")})
        ranker._load_files(directory)
        return ranker

    def _save_files(self, directory: Path) -> None:  # noqa: B027 - optional hook
        """Hook for state that is not arrays (a LightGBM model, a nested generator)."""

    def _load_files(self, directory: Path) -> None:  # noqa: B027 - optional hook
        """Counterpart of :meth:`_save_files`."""

    # -- what each algorithm implements ---------------------------------------------------
    @abstractmethod
    def _fit(self, data: InteractionData) -> None: ...

    @abstractmethod
    def _score_indices(self, user: int | None, items: np.ndarray) -> np.ndarray:
        """Scores for item indices; ``user`` is None for a user unseen in training."""

    @abstractmethod
    def _state(self) -> dict[str, np.ndarray]: ...

    @abstractmethod
    def _restore(self, state: dict[str, np.ndarray]) -> None: ...
