"""models.activated_at: when a version last became active (for rollback)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("models", sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE models SET activated_at = created_at WHERE is_active")


def downgrade() -> None:
    op.drop_column("models", "activated_at")
