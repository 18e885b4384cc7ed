"""weekly reports: each watched metric's statistics with a user's requests as one cluster (the
variance of the week's mean, the users, the worst-case effective size), which next week's
quality-drop test needs (requests counted as independent made drops look surer than they were)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Reports built before this revision have none; the drop test falls back to their lists.
    op.add_column("weekly_reports", sa.Column("drop_statistics", postgresql.JSONB(), nullable=True))


def downgrade() -> None:
    op.drop_column("weekly_reports", "drop_statistics")
