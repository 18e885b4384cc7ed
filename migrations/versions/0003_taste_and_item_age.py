"""first_interaction_ts on both feature tables; user_features.genre_counts (a user's taste)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("user_features", "item_features"):
        op.add_column(table, sa.Column("first_interaction_ts", sa.BigInteger(), nullable=True))
    op.add_column("user_features", sa.Column("genre_counts", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("user_features", "genre_counts")
    for table in ("user_features", "item_features"):
        op.drop_column(table, "first_interaction_ts")
