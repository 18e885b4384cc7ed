"""drift sample sizes: the logged requests a drift report compared

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: reports built before this revision did not count them.
    op.add_column("drift_reports", sa.Column("current_requests", sa.Integer(), nullable=True))
    op.add_column("weekly_reports", sa.Column("drift_requests", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("weekly_reports", "drift_requests")
    op.drop_column("drift_reports", "current_requests")
