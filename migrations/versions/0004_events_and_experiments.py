"""events (idempotent by client event id); serve log: variant, shadow_of, endpoint, degraded

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("item_id", sa.Text(), nullable=False),
        sa.Column("event_type", sa.String(32), nullable=False),
        sa.Column("rating", sa.Double(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("request_id", postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column(
            "received_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("event_id", name="pk_events"),
    )
    op.create_index("ix_events_request_id", "events", ["request_id"])
    op.create_index("ix_events_user_id_occurred_at", "events", ["user_id", "occurred_at"])
    op.add_column(
        "served_requests",
        sa.Column("variant", sa.String(64), server_default="default", nullable=False),
    )
    op.add_column(
        "served_requests", sa.Column("shadow_of", postgresql.UUID(as_uuid=True), nullable=True)
    )
    op.add_column(
        "served_requests",
        sa.Column("endpoint", sa.String(32), server_default="recommendations", nullable=False),
    )
    op.add_column(
        "served_requests",
        sa.Column("degraded", sa.Boolean(), server_default="false", nullable=False),
    )


def downgrade() -> None:
    for column in ("degraded", "endpoint", "shadow_of", "variant"):
        op.drop_column("served_requests", column)
    op.drop_index("ix_events_user_id_occurred_at", table_name="events")
    op.drop_index("ix_events_request_id", table_name="events")
    op.drop_table("events")
