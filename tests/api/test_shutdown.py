"""Graceful shutdown of a live `recsys serve`: on SIGTERM readiness turns false at once while
requests are still answered for the grace period, and every served request reaches the serve log
before the process exits."""

from __future__ import annotations

import signal
import time

import httpx
import pytest
from sqlalchemy import text

from tests.api.conftest import live_api

pytestmark = [pytest.mark.integration, pytest.mark.slow]
GRACE_SECONDS = 3.0


def test_sigterm_unready_first_answers_on_then_drains_serve_log(served, engine) -> None:  # type: ignore[no-untyped-def]
    data, *_, settings = served
    users = [str(u) for u in data.interactions["user_id"].unique()[:30]]
    with live_api(settings, RECSYS_SHUTDOWN_GRACE_SECONDS=str(GRACE_SECONDS)) as api:
        with httpx.Client(base_url=api.base, timeout=10) as http:
            served_ids = [
                http.get(f"/v1/users/{u}/recommendations").json()["request_id"] for u in users
            ]
            api.process.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            while (ready := http.get("/readyz")).status_code == 200:
                assert time.monotonic() - signalled < 1, "/readyz still 200 a second after SIGTERM"
                time.sleep(0.02)
            assert ready.status_code == 503 and ready.json()["checks"]["shutdown"] == "draining"
            during = http.get(f"/v1/users/{users[0]}/recommendations")
            assert during.status_code == 200, "a request in the grace period was refused"
            served_ids.append(during.json()["request_id"])
            assert api.process.poll() is None and time.monotonic() - signalled < GRACE_SECONDS
        # uvicorn ends by re-raising the signal it stopped on: "killed by SIGTERM" is its clean exit
        assert api.process.wait(30) in (0, -signal.SIGTERM)
        assert time.monotonic() - signalled >= GRACE_SECONDS
    with engine.connect() as conn:
        logged = conn.execute(
            text("SELECT count(*) FROM served_requests "
                 "WHERE request_id = ANY(CAST(:ids AS uuid[]))"),
            {"ids": served_ids},
        ).scalar_one()  # fmt: skip
    assert logged == len(served_ids), "served requests missing from the serve log after shutdown"
