"""A trained version's holdout quality (real Postgres, Redis and Feast): measured on the latest
interactions by the same ranker fitted without them, recomputed here by hand."""

import os
import uuid

import pandas as pd
import pytest
from sqlalchemy import func, make_url, select

from recsys.data.schema import Dataset
from recsys.data.synthetic import SyntheticConfig, generate_synthetic
from recsys.db.models import Interaction
from recsys.evaluation.metrics import ndcg_at_k, precision_at_k
from recsys.infra.endpoints import Endpoints, connect_postgres
from recsys.ranking import InteractionData
from recsys.ranking.popularity import PopularityRanker
from recsys.training.holdout import holdout_metrics
from recsys.training.train import train_model

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def served(serve_dataset):  # type: ignore[no-untyped-def]
    data = generate_synthetic(SyntheticConfig(n_users=150, n_items=80))
    serve_dataset(data)
    return data


def _interaction_count(engine) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(Interaction)))


def test_a_version_records_its_rankers_quality_on_the_latest_interactions(  # type: ignore[no-untyped-def]
    served, settings, engine, feature_store, test_endpoints
) -> None:
    before, environment = _interaction_count(engine), dict(os.environ)
    row = train_model(
        settings, engine, feature_store, "popularity", activate=False, holdout=0.2,
        endpoints=test_endpoints,
    )  # fmt: skip
    holdout = row.metrics["holdout"]

    # By hand: fit on the rows before the 80 % time quantile, recommend each user active on
    # both sides their 10 most popular unseen items, score against the later items.
    events = served.interactions
    cutoff = events["occurred_at"].quantile(0.8)
    train, later = events[events["occurred_at"] < cutoff], events[events["occurred_at"] >= cutoff]
    ranker = PopularityRanker().fit(InteractionData.from_frame(train, served.items["item_id"]))
    seen = set(zip(train["user_id"], train["item_id"], strict=True))
    known_users, known_items = set(train["user_id"]), set(train["item_id"])
    relevant: dict[str, set[str]] = {}
    for user, item in zip(later["user_id"], later["item_id"], strict=True):
        if user in known_users and item in known_items and (user, item) not in seen:
            relevant.setdefault(user, set()).add(item)
    top = {user: list(ranker.recommend(user, 10).item_ids) for user in relevant}

    assert holdout["protocol"] == "temporal" and holdout["test_ratio"] == 0.2
    assert holdout["k"] == 10 and holdout["users"] == len(relevant) > 10
    assert holdout["test_rows"] == sum(len(items) for items in relevant.values())
    assert pd.Timestamp(holdout["cutoff"]) < cutoff <= pd.Timestamp(row.train_end)
    assert holdout["ndcg@10"] == pytest.approx(ndcg_at_k(top, relevant, 10), abs=1e-4)
    assert holdout["precision@10"] == pytest.approx(precision_at_k(top, relevant, 10), abs=1e-4)
    assert 0 < holdout["ndcg@10"] < 1
    # The version itself is fitted on everything, and the app database is left as it was.
    assert row.n_interactions == before == _interaction_count(engine) == len(events)
    # The evaluation pointed Feast's environment at its own project; it is put back.
    assert dict(os.environ) == environment


def test_a_role_that_may_not_create_or_fill_the_evaluation_database_is_told_what_to_do(  # type: ignore[no-untyped-def]
    served, settings, engine, test_endpoints
) -> None:
    suffix = uuid.uuid4().hex[:8]
    role, database = f"recsys_limited_{suffix}", f"recsys_limited_{suffix}"
    url = make_url(test_endpoints.database_url)
    limited = Endpoints(
        url.set(username=role, password="limited", database=database).render_as_string(False),
        test_endpoints.redis_url,
    )
    with connect_postgres(test_endpoints) as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN NOCREATEDB PASSWORD 'limited'")
        admin.execute(f'CREATE DATABASE "{database}"')
    try:
        # It may not create the evaluation database…
        refused = holdout_metrics(settings, limited, engine, "popularity", {}, 0.2)
        assert "permission denied to create database" in refused["skipped"]
        assert f"CREATE DATABASE {database}_eval OWNER <role>" in refused["skipped"]
        # …nor, where someone else created it, the tables in it.
        with connect_postgres(test_endpoints) as admin:
            admin.execute(f'CREATE DATABASE "{database}_eval"')
        with connect_postgres(test_endpoints, f"{database}_eval") as admin:
            admin.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")  # PostgreSQL 15's default
        refused = holdout_metrics(settings, limited, engine, "popularity", {}, 0.2)
        assert "permission denied for schema public" in refused["skipped"]
    finally:
        with connect_postgres(test_endpoints) as admin:
            for name in (f"{database}_eval", database):
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f"DROP ROLE IF EXISTS {role}")


def test_no_holdout_records_none(  # type: ignore[no-untyped-def]
    served, settings, engine, feature_store
) -> None:
    row = train_model(settings, engine, feature_store, "popularity", activate=False, holdout=0)
    assert "holdout" not in row.metrics


def test_a_holdout_with_nothing_to_measure_is_recorded_and_the_version_kept(  # type: ignore[no-untyped-def]
    serve_dataset, settings, engine, feature_store, test_endpoints
) -> None:
    # Everything after the cut-off is by newcomers: no user is on both sides to measure.
    day = pd.Timestamp("2026-01-01", tz="UTC")
    early = [
        (f"u{u}", f"i{(u + i) % 6}", day + pd.Timedelta(hours=u * 6 + i))
        for u in range(8)
        for i in range(6)
    ]
    late = [(f"new{u}", f"i{u % 6}", day + pd.Timedelta(days=30, hours=u)) for u in range(6)]
    interactions = pd.DataFrame(early + late, columns=["user_id", "item_id", "occurred_at"])
    interactions["rating"] = float("nan")
    users = pd.DataFrame({"user_id": pd.unique(interactions["user_id"])})
    users["attributes"] = [{} for _ in range(len(users))]
    items = pd.DataFrame({"item_id": [f"i{i}" for i in range(6)], "title": None})
    items["genres"] = [["Drama"] for _ in range(len(items))]
    items["attributes"] = [{} for _ in range(len(items))]
    serve_dataset(Dataset("newcomers", users, items, interactions))

    row = train_model(
        settings, engine, feature_store, "popularity", activate=False, holdout=0.1,
        endpoints=test_endpoints,
    )  # fmt: skip
    assert "no evaluable test rows" in row.metrics["holdout"]["skipped"]
    assert row.version and row.n_interactions == len(interactions)
