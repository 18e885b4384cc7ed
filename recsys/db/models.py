"""The app database: catalogue, interactions, offline feature tables, model registry, serve log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class User(Base):
    __tablename__ = "users"

    user_id: Mapped[str] = mapped_column(Text, primary_key=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Item(Base):
    __tablename__ = "items"

    item_id: Mapped[str] = mapped_column(Text, primary_key=True)
    title: Mapped[str | None] = mapped_column(Text)
    genres: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list, server_default="{}")
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Interaction(Base):
    __tablename__ = "interactions"
    __table_args__ = (
        Index(None, "user_id", "occurred_at"),
        Index(None, "item_id"),
        Index(None, "occurred_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(Text, ForeignKey("users.user_id"))
    item_id: Mapped[str] = mapped_column(Text, ForeignKey("items.item_id"))
    rating: Mapped[float | None] = mapped_column(Double)
    event_type: Mapped[str] = mapped_column(String(32), server_default="rating")
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class _ActivitySnapshot:
    """Columns shared by both offline feature tables (see recsys.features.snapshots)."""

    event_timestamp: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    interaction_count: Mapped[int] = mapped_column(BigInteger)
    mean_rating: Mapped[float | None] = mapped_column(Double)
    last_interaction_ts: Mapped[int | None] = mapped_column(BigInteger)
    days_since_last_interaction: Mapped[float | None] = mapped_column(Double)
    first_interaction_ts: Mapped[int | None] = mapped_column(BigInteger)


class UserFeatures(_ActivitySnapshot, Base):
    """Offline feature table read by Feast (PostgreSQLSource): one row per user per snapshot."""

    __tablename__ = "user_features"

    user_id: Mapped[str] = mapped_column(Text, primary_key=True, sort_order=-1)
    # Interactions so far per genre, "Comedy:3|Drama:12" (genres vary by dataset, so not columns)
    genre_counts: Mapped[str | None] = mapped_column(Text)


class ItemFeatures(_ActivitySnapshot, Base):
    """Offline feature table read by Feast (PostgreSQLSource): one row per item per snapshot."""

    __tablename__ = "item_features"

    item_id: Mapped[str] = mapped_column(Text, primary_key=True, sort_order=-1)
    genres: Mapped[str] = mapped_column(Text)


class Model(Base):
    """Model registry: one row per trained version; exactly one row is active at a time."""

    __tablename__ = "models"
    __table_args__ = (
        Index("uq_models_one_active", "is_active", unique=True, postgresql_where="is_active"),
    )

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    algorithm: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    feature_service: Mapped[str] = mapped_column(String(128))
    train_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    train_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    n_interactions: Mapped[int] = mapped_column(BigInteger)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    artifact_path: Mapped[str] = mapped_column(Text)
    artifact_sha256: Mapped[str] = mapped_column(String(64))
    reference_path: Mapped[str | None] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ServedRequest(Base):
    """Every answered recommendation request, with what was served and the features used."""

    __tablename__ = "served_requests"
    __table_args__ = (Index(None, "served_at"), Index(None, "user_id"))

    request_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    served_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    user_id: Mapped[str] = mapped_column(Text)
    model_version: Mapped[int | None] = mapped_column(Integer)
    algorithm: Mapped[str] = mapped_column(String(64))
    fallback: Mapped[bool] = mapped_column(Boolean)
    k: Mapped[int] = mapped_column(Integer)
    items: Mapped[list[str]] = mapped_column(ARRAY(Text))
    scores: Mapped[list[float]] = mapped_column(ARRAY(Double))
    features: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    latency_ms: Mapped[float] = mapped_column(Double)
    # experiment arm ("control", "treatment-…", or "shadow" for a model scored but not served)
    variant: Mapped[str] = mapped_column(String(64), server_default="default")
    shadow_of: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    endpoint: Mapped[str] = mapped_column(String(32), server_default="recommendations")
    degraded: Mapped[bool] = mapped_column(Boolean, server_default="false")


class Event(Base):
    """Feedback received through ``POST /v1/events``: stored once per client event id (a retry
    of the same id is a no-op), with the serve-log request it answers when the client says so.
    Each event is also an interaction (so features and training see it)."""

    __tablename__ = "events"
    __table_args__ = (Index(None, "request_id"), Index(None, "user_id", "occurred_at"))

    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    user_id: Mapped[str] = mapped_column(Text)
    item_id: Mapped[str] = mapped_column(Text)
    event_type: Mapped[str] = mapped_column(String(32))
    rating: Mapped[float | None] = mapped_column(Double)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    request_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class DriftReport(Base):
    """Summary row of one drift report; the HTML and JSON snapshot live in the reports directory."""

    __tablename__ = "drift_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    period_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    period_end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    model_version: Mapped[int | None] = mapped_column(Integer)
    current_rows: Mapped[int] = mapped_column(Integer)
    #: logged requests compared (their rows are ``current_rows``)
    current_requests: Mapped[int | None] = mapped_column(Integer)
    reference_rows: Mapped[int] = mapped_column(Integer)
    drifted_columns: Mapped[int] = mapped_column(Integer)
    total_columns: Mapped[int] = mapped_column(Integer)
    drift_share: Mapped[float] = mapped_column(Double)
    dataset_drift: Mapped[bool] = mapped_column(Boolean)
    columns: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    html_path: Mapped[str] = mapped_column(Text)
    json_path: Mapped[str] = mapped_column(Text)


class WeeklyReport(Base):
    """One row per ISO week (``2026-W47``): the weekly monitoring summary that reviewers read
    first. Rebuilding a week replaces its row; the HTML and JSON snapshot live in the reports
    directory under the week's name."""

    __tablename__ = "weekly_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    week: Mapped[str] = mapped_column(String(8), unique=True)
    period_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    period_end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    model_version: Mapped[int | None] = mapped_column(Integer)
    requests: Mapped[int] = mapped_column(Integer)
    feedback_events: Mapped[int] = mapped_column(Integer)
    drift_share: Mapped[float | None] = mapped_column(Double)
    #: logged requests the drift test compared (None when drift was not computed)
    drift_requests: Mapped[int | None] = mapped_column(Integer)
    drifted_columns: Mapped[list[str]] = mapped_column(JSONB, default=list)
    columns: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    quality: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    distribution: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    changes: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    alert: Mapped[bool] = mapped_column(Boolean)
    alert_reasons: Mapped[list[str]] = mapped_column(JSONB, default=list)
    #: what qualifies the numbers and alerts (small samples, mixed versions, drift within noise)
    notes: Mapped[list[str]] = mapped_column(JSONB, default=list, server_default="[]")
    #: (Σ slots)² / Σ slots² over the week's lists: how many equal lists its CTR is worth
    ctr_effective_lists: Mapped[float | None] = mapped_column(Double)
    #: per watched metric, the variance of the week's mean with a user's requests as one
    #: cluster, the users and the worst-case effective size: next week's drop test needs them
    drop_statistics: Mapped[dict[str, dict[str, float]] | None] = mapped_column(JSONB)
    html_path: Mapped[str | None] = mapped_column(Text)
    json_path: Mapped[str | None] = mapped_column(Text)
    workspace_runs: Mapped[list[str]] = mapped_column(JSONB, default=list)
