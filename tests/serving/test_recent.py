"""The request path's one Postgres read (items since the model's data ended), on real Postgres:
what it returns, and that a stalled database costs a request at most the deadline."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import text

from recsys.data.loader import load_dataset
from recsys.data.synthetic import SyntheticConfig, generate_synthetic
from recsys.serving.recent import RecentInteractions, recent_reads_engine

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def interactions(engine):  # type: ignore[no-untyped-def]
    data = generate_synthetic(SyntheticConfig(n_users=30, n_items=40, seed=3))
    load_dataset(engine, data)
    return data.interactions


@pytest.fixture
def recent(test_endpoints):  # type: ignore[no-untyped-def]
    reads = RecentInteractions(
        recent_reads_engine(test_endpoints, deadline_ms=50), retry_seconds=30
    )
    assert reads.warm_up()
    yield reads
    reads.close()


def test_it_returns_the_users_items_after_the_given_time(interactions, recent) -> None:  # type: ignore[no-untyped-def]
    user = interactions["user_id"].iloc[0]
    mine = interactions[interactions["user_id"] == user].sort_values("occurred_at")
    since = mine["occurred_at"].iloc[len(mine) // 2]
    later = set(mine.loc[mine["occurred_at"] > since, "item_id"])
    assert later and set(recent.items_since(user, since.to_pydatetime())) == later
    assert set(recent.items_since(user, None)) == set(mine["item_id"])
    last = mine["occurred_at"].max() + timedelta(seconds=1)
    assert recent.items_since(user, last.to_pydatetime()) == []
    assert recent.items_since("nobody", None) == []


def test_a_stalled_database_costs_a_request_the_deadline_then_nothing(  # type: ignore[no-untyped-def]
    interactions, recent, engine
) -> None:
    user = interactions["user_id"].iloc[0]
    assert recent.items_since(user, None)  # connected and answering
    with engine.connect() as blocker:
        blocker.execute(text("LOCK TABLE interactions IN ACCESS EXCLUSIVE MODE"))  # held
        # Without the deadline the read would wait for the lock: release it after 10 s so a
        # regression fails on the timing below instead of hanging the suite.
        release = threading.Timer(10, blocker.connection.driver_connection.rollback)
        release.start()
        try:
            started = time.perf_counter()
            assert recent.items_since(user, None) == []
            waited = time.perf_counter() - started
            started = time.perf_counter()
            assert recent.items_since(user, None) == []  # not asked again within retry_seconds
            skipped = time.perf_counter() - started
        finally:
            release.cancel()
            blocker.rollback()
    # a 50 ms statement timeout: these bounds only tell it from waiting for the lock (10 s)
    assert waited < 2 and skipped < 0.5, (waited, skipped)
