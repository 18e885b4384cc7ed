"""`feast apply` and `feast materialize-incremental`, run in-process for the CLI and the demo.

They do exactly what a data engineer's `cd feature_repo && feast apply` does (same definitions,
same feature_store.yaml), only without paying Feast's import time again for every step.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from recsys.config import Settings
from recsys.infra.endpoints import Endpoints
from recsys.infra.feast_store import build_feature_store, feast_environment


@contextlib.contextmanager
def _in_repo(repo: Path):  # type: ignore[no-untyped-def]
    # Feast's apply chdirs into the repo and imports its modules by bare name.
    cwd = os.getcwd()
    # Feast mutates the definition objects it applies (e.g. their version numbers); importing the
    # modules afresh makes a second apply in the same process behave like `feast apply` does.
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", None) or "").startswith(str(repo)):
            del sys.modules[name]
    if str(repo) not in sys.path:
        sys.path.append(str(repo))
    try:
        yield
    finally:
        os.chdir(cwd)


class NoFeatureViewsError(RuntimeError):
    """The Feast project defines no feature view to load: `feast apply` was never run on it."""


class EndBeforeLoadedError(ValueError):
    """An incremental load's end before what the online store already holds: it loads nothing
    (each run starts where the last one ended), yet would be reported as the store's state."""


def apply_definitions(settings: Settings, endpoints: Endpoints, *, quiet: bool = True) -> str:
    """Register entities, sources, views and services in the SQL registry; returns Feast's log."""
    os.environ.update(feast_environment(settings, endpoints))
    from feast.repo_config import load_repo_config
    from feast.repo_operations import apply_total

    repo = settings.feature_repo
    config = load_repo_config(repo, repo / "feature_store.yaml")
    out = io.StringIO()
    with _in_repo(repo), contextlib.redirect_stdout(out if quiet else sys.stdout):
        apply_total(config, repo, skip_source_validation=False)
    return out.getvalue()


def materialize(
    settings: Settings, endpoints: Endpoints, end: datetime | None = None, *, quiet: bool = True
) -> datetime:
    """Load the online store (Redis) with feature values up to ``end`` (default: now).

    Incremental, as ``feast materialize-incremental``, except for a view never materialised
    before: with ``ttl=0`` Feast would start its first run a year before ``end`` and skip older
    rows for good (a table built ``--as-of`` two years ago loaded nothing and said it had), so
    such a view is loaded from the beginning of time once."""
    end = end or datetime.now(UTC)
    end = end if end.tzinfo else end.replace(tzinfo=UTC)  # a time without a zone is UTC
    store = build_feature_store(settings, endpoints)
    views = [view for view in store.list_feature_views() if view.online]
    if not views:
        # Feast materialises "0 feature views" without complaint, and the CLI said the online
        # store held features up to `end` while it held none.
        raise NoFeatureViewsError(
            f"Feast project {settings.feast_project!r} has no feature views: "
            "run `recsys features apply` first"
        )
    never = [view.name for view in views if not view.materialization_intervals]
    loaded = [_utc(view.most_recent_end_time) for view in views if view.materialization_intervals]
    held = max(loaded) if loaded else BEGINNING
    if end < held:
        raise EndBeforeLoadedError(
            f"--end {end.isoformat()}: before {held.isoformat()}, "
            + (
                "which the online store already holds features up to; an incremental run "
                "starts where the last one ended, so it would load nothing"
                if loaded
                else "the earliest time a feature value can have"
            )
        )
    out = io.StringIO()
    with (
        contextlib.redirect_stdout(out if quiet else sys.stdout),
        contextlib.redirect_stderr(out if quiet else sys.stderr),
    ):
        if never:
            store.materialize(start_date=BEGINNING, end_date=end, feature_views=never)
        store.materialize_incremental(end_date=end)
    return end


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


#: Where a first materialisation starts: before any interaction a feature table can hold.
BEGINNING = datetime(1970, 1, 1, tzinfo=UTC)
