"""Rankers by name. Built-ins register on import; other packages register through the
``recsys.rankers`` entry-point group (``name = "package.module:RankerClass"``)."""

from __future__ import annotations

import logging
from importlib import import_module
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from recsys.ranking.base import Ranker

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "recsys.rankers"
BUILTIN_MODULES = (
    "recsys.ranking.popularity",
    "recsys.ranking.als",
    "recsys.ranking.bpr",
    "recsys.ranking.item_knn",
    "recsys.ranking.ease",
    "recsys.ranking.sequential_knn",
    "recsys.ranking.lightgbm_ranker",
    "recsys.ranking.two_stage",
)

_RANKERS: dict[str, type[Ranker]] = {}
R = TypeVar("R", bound="type[Ranker]")


def register(cls: R) -> R:
    existing = _RANKERS.get(cls.name)
    if existing is not None and existing is not cls:
        raise ValueError(f"ranker name {cls.name!r} is taken by {existing.__module__}")
    _RANKERS[cls.name] = cls
    return cls


class BrokenPluginError(ValueError):
    """A ranker whose entry point is installed but fails to load (its package is broken)."""


#: Entry points that failed to load, by name: why, naming the entry point and its package.
_BROKEN: dict[str, str] = {}


def _discover() -> None:
    for module in BUILTIN_MODULES:
        import_module(module)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in _RANKERS or ep.name in _BROKEN:
            continue
        # One broken plugin must not take every command and every other ranker down with it:
        # it is left out (and named when asked for), the rest keep working.
        try:
            register(ep.load())
        except Exception as exc:  # noqa: BLE001 — any error of foreign code at import time
            package = f"package {ep.dist.name!r}" if ep.dist is not None else "unknown package"
            _BROKEN[ep.name] = (
                f"entry point {ep.name} = {ep.value!r} ({package}, group {ENTRY_POINT_GROUP!r}) "
                f"failed to load: {type(exc).__name__}: {exc}"
            )
            logger.warning("ranker %s", _BROKEN[ep.name])


def available_rankers() -> list[str]:
    _discover()
    return sorted(_RANKERS)


def get_ranker_class(name: str) -> type[Ranker]:
    # A registered name needs no discovery: scanning every installed distribution's entry
    # points costs milliseconds, and this is on the API's request path (`algorithm=`).
    known = _RANKERS.get(name)
    if known is not None:
        return known
    _discover()
    try:
        return _RANKERS[name]
    except KeyError:
        if name in _BROKEN:
            raise BrokenPluginError(f"ranker {name!r} cannot be used: {_BROKEN[name]}") from None
        raise ValueError(
            f"unknown ranker {name!r}; available: {', '.join(sorted(_RANKERS))}"
        ) from None


def create_ranker(name: str, params: dict[str, Any] | None = None) -> Ranker:
    return get_ranker_class(name)(params or {})


def protocol_params(
    name: str, random_holdout: bool, params: dict[str, Any] | None = None
) -> dict[str, Any]:
    """``params`` over the ranker's settings for the kind of data it is fitted on: under a
    random holdout its ``random_protocol_params`` first (chosen on random validation splits),
    otherwise its defaults, which serve a forecast."""
    base = get_ranker_class(name).random_protocol_params if random_holdout else {}
    return {**base, **(params or {})}


def load_ranker(directory: Path) -> Ranker:
    import json

    meta = json.loads((directory / "ranker.json").read_text())
    return get_ranker_class(meta["ranker"]).load(directory)
