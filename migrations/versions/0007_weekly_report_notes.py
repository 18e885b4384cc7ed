"""weekly report notes: what qualifies a week's numbers and alerts (small samples, several model
versions, drift within sampling noise), for the CLI and the API as well as the page; and the
effective number of lists behind a week's CTR, which next week's drop test needs

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Reports built before this revision have none recorded (their pages still show them).
    op.add_column(
        "weekly_reports",
        sa.Column("notes", postgresql.JSONB(), nullable=False, server_default="[]"),
    )
    op.add_column("weekly_reports", sa.Column("ctr_effective_lists", sa.Double(), nullable=True))


def downgrade() -> None:
    op.drop_column("weekly_reports", "ctr_effective_lists")
    op.drop_column("weekly_reports", "notes")
