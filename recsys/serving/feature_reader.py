"""Online features for one user and many candidate items, fast, with Feast as the source of truth.

Stock ``FeatureStore.get_online_features`` costs about 0.1 ms per entity row in Python and
protobuf work (≈ 120 ms for 1,000 candidates here), far more than the ranking itself. But a
request's rows share one user and draw items from a catalogue that changes only when features are
materialised. So :class:`OnlineFeatureReader` splits the FeatureService three ways:

- **item views** (keyed by ``item_id``): an in-memory columnar snapshot of every catalogue item,
  read from the online store *through Feast* (``get_online_features`` in batches), versioned by
  the views' materialisation intervals in the Feast registry, and replaced in the background when
  they change (:meth:`refresh_if_stale`). A request only indexes into it.
- **user views** (keyed by ``user_id``): read per request through Feast for that one user, so
  pushed values (``POST /v1/events``) are seen by the very next request.
- **on-demand views** (user × item): computed per request by the view's own Feast transformation
  (``OnDemandFeatureView.transform_arrow``), on the same inputs Feast would give it.

Staleness: user features are never stale; item features lag a materialisation by at most
``refresh_seconds`` plus one snapshot load (the registry is polled that often). Values are equal
to Feast's own read (``tests/serving/test_feature_reader.py`` asserts it).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa

logger = logging.getLogger(__name__)

USER_KEY, ITEM_KEY = "user_id", "item_id"
SNAPSHOT_BATCH = 2_000


@dataclass(frozen=True)
class ItemSnapshot:
    """Every catalogue item's item-view features, Feast full names, indexed by item id."""

    version: tuple
    frame: pd.DataFrame
    loaded_at: float


@dataclass(frozen=True)
class _Plan:
    """Which features of the service come from where, in the service's column order."""

    user_refs: list[str]  # "view:feature"
    item_refs: list[str]
    on_demand: list  # OnDemandFeatureView, projected to the requested features
    columns: list[str]  # full names in Feast's response order (entities excluded)


class OnlineFeatureReader:
    def __init__(
        self,
        store,  # feast.FeatureStore
        feature_service: str,
        item_ids: Sequence[str],
        refresh_seconds: float = 30.0,
    ) -> None:
        self._store = store
        self.feature_service = feature_service
        self._item_ids = [str(i) for i in item_ids]
        self._refresh_seconds = refresh_seconds
        self._plan = self._make_plan()
        self._snapshot = self._load_snapshot(self._registry_version())
        self._checked_at = time.monotonic()
        self._refreshing = threading.Lock()

    # -- reading -----------------------------------------------------------------------------
    @property
    def snapshot(self) -> ItemSnapshot:
        return self._snapshot

    def fetch(self, user_id: str, item_ids: Sequence[str]) -> pd.DataFrame:
        """One row per item, columns ``user_id, item_id`` then the service's features in Feast
        full names, as ``get_online_features(...).to_dict()`` would give them."""
        item_ids = [str(i) for i in item_ids]
        frame = pd.DataFrame({USER_KEY: [user_id] * len(item_ids), ITEM_KEY: item_ids})
        if self._plan.user_refs:
            user = self._read_user(user_id)
            for column, value in user.items():
                frame[column] = [value] * len(item_ids)
        if self._plan.item_refs:
            items = self._snapshot.frame.reindex(item_ids)
            for column in items.columns:
                frame[column] = items[column].to_numpy(dtype=object)
            # reindex turns missing rows into NaN; Feast says None
            missing = ~pd.Index(item_ids).isin(self._snapshot.frame.index)
            if missing.any():
                frame.loc[missing, list(items.columns)] = None
        for odfv in self._plan.on_demand:
            table = pa.Table.from_pandas(frame, preserve_index=False)
            out = odfv.transform_arrow(table, full_feature_names=True)
            for name in out.column_names:
                if name.startswith(f"{odfv.projection.name_to_use()}__"):
                    # Feast's response turns a NaN from the transformation into a missing value
                    values = out.column(name).to_pylist()
                    frame[name] = pd.Series(
                        [None if v is None or v != v else v for v in values], dtype=object
                    )
        return frame[[USER_KEY, ITEM_KEY, *self._plan.columns]]

    def _read_user(self, user_id: str) -> dict[str, object]:
        response = self._store.get_online_features(
            features=self._plan.user_refs,
            entity_rows=[{USER_KEY: user_id}],
            full_feature_names=True,
        ).to_dict()
        return {k: v[0] for k, v in response.items() if k != USER_KEY}

    # -- the item snapshot ----------------------------------------------------------------------
    def refresh_if_stale(self, force: bool = False) -> bool:
        """Reload the item snapshot when the registry says its views were materialised since;
        checks at most every ``refresh_seconds``. Returns True when it reloaded."""
        now = time.monotonic()
        if not force and now - self._checked_at < self._refresh_seconds:
            return False
        if not self._refreshing.acquire(blocking=False):
            return False
        try:
            self._checked_at = now
            version = self._registry_version()
            if not force and version == self._snapshot.version:
                return False
            self._snapshot = self._load_snapshot(version)  # one reference swap: readers never
            return True  # see a half-built snapshot
        finally:
            self._refreshing.release()

    def _registry_version(self) -> tuple:
        """The item views' latest materialisation intervals (any `feast materialize`, from the
        CLI or a data engineer's shell, moves them)."""
        views = {ref.split(":")[0] for ref in self._plan.item_refs}
        version = []
        for name in sorted(views):
            view = self._store.registry.get_feature_view(
                name, self._store.project, allow_cache=False
            )
            intervals = view.materialization_intervals
            version.append((name, max((end for _, end in intervals), default=None)))
        return tuple(version)

    def _load_snapshot(self, version: tuple) -> ItemSnapshot:
        started = time.perf_counter()
        parts = []
        if self._plan.item_refs:
            for start in range(0, len(self._item_ids), SNAPSHOT_BATCH):
                batch = self._item_ids[start : start + SNAPSHOT_BATCH]
                response = self._store.get_online_features(
                    features=self._plan.item_refs,
                    entity_rows=[{ITEM_KEY: item} for item in batch],
                    full_feature_names=True,
                ).to_dict()
                # object columns keep Feast's Python values (an int stays an int beside None)
                columns = {k: pd.Series(v, dtype=object) for k, v in response.items()}
                parts.append(pd.DataFrame(columns).set_index(ITEM_KEY))
        frame = pd.concat(parts) if parts else pd.DataFrame(index=pd.Index([], name=ITEM_KEY))
        logger.info(
            "item feature snapshot for %s: %d items in %.2fs",
            self.feature_service,
            len(frame),
            time.perf_counter() - started,
        )
        return ItemSnapshot(version, frame, time.time())

    # -- what the FeatureService holds ---------------------------------------------------------
    def _make_plan(self) -> _Plan:
        store = self._store
        service = store.get_feature_service(self.feature_service, allow_cache=True)
        on_demand_names = {v.name for v in store.list_on_demand_feature_views(allow_cache=True)}
        user_refs, item_refs, on_demand, columns = [], [], [], []
        for projection in service.feature_view_projections:
            name = projection.name_to_use()
            refs = [f"{projection.name}:{f.name}" for f in projection.features]
            columns += [f"{name}__{f.name}" for f in projection.features]
            if projection.name in on_demand_names:
                odfv = store.get_on_demand_feature_view(projection.name, allow_registry_cache=True)
                on_demand.append(odfv.with_projection(projection))
                # its inputs must be in the frame it transforms, even if not served
                for source in odfv.source_feature_view_projections.values():
                    self._add_source(source, user_refs, item_refs)
                continue
            view = store.get_feature_view(projection.name, allow_registry_cache=True)
            keys = set(view.join_keys)
            target = user_refs if keys == {USER_KEY} else item_refs if keys == {ITEM_KEY} else None
            if target is None:
                raise ValueError(
                    f"feature view {projection.name!r} is keyed by {sorted(keys)}: the fast reader "
                    f"serves views keyed by {USER_KEY} or {ITEM_KEY} alone"
                )
            target += [r for r in refs if r not in target]
        return _Plan(user_refs, item_refs, on_demand, columns)

    def _add_source(self, source, user_refs: list[str], item_refs: list[str]) -> None:
        view = self._store.get_feature_view(source.name, allow_registry_cache=True)
        target = user_refs if set(view.join_keys) == {USER_KEY} else item_refs
        for feature in source.features:
            ref = f"{source.name}:{feature.name}"
            if ref not in target:
                target.append(ref)

