"""weekly_reports: one monitoring summary per ISO week

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "weekly_reports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("week", sa.String(8), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("model_version", sa.Integer(), nullable=True),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("feedback_events", sa.Integer(), nullable=False),
        sa.Column("drift_share", sa.Double(), nullable=True),
        sa.Column("drifted_columns", postgresql.JSONB(), nullable=False),
        sa.Column("columns", postgresql.JSONB(), nullable=False),
        sa.Column("quality", postgresql.JSONB(), nullable=False),
        sa.Column("distribution", postgresql.JSONB(), nullable=False),
        sa.Column("changes", postgresql.JSONB(), nullable=False),
        sa.Column("alert", sa.Boolean(), nullable=False),
        sa.Column("alert_reasons", postgresql.JSONB(), nullable=False),
        sa.Column("html_path", sa.Text(), nullable=True),
        sa.Column("json_path", sa.Text(), nullable=True),
        sa.Column("workspace_runs", postgresql.JSONB(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_weekly_reports"),
        sa.UniqueConstraint("week", name="uq_weekly_reports_week"),
    )


def downgrade() -> None:
    op.drop_table("weekly_reports")
