"""weekly reports: each watched metric's effective sample size with a user's requests counted as
one draw, which next week's quality-drop test needs (a few heavy users made a drop look surer
than it was)

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
    op.add_column("weekly_reports", sa.Column("effective_sizes", postgresql.JSONB(), nullable=True))


def downgrade() -> None:
    op.drop_column("weekly_reports", "effective_sizes")
