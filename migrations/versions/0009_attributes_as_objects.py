"""user and item attributes as JSON objects: the loader wrote them as JSON text into the jsonb
column, so each was stored as a string holding the object (`attributes->>'age'` found nothing and
reading the table back gave no attributes)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Only the loader writes these columns, and the strings it wrote are JSON text of a dict:
    # parsed once more, each is the object it should have been.
    for table in ("users", "items"):
        op.execute(
            f"UPDATE {table} SET attributes = (attributes #>> '{{}}')::jsonb "
            "WHERE jsonb_typeof(attributes) = 'string'"
        )


def downgrade() -> None:
    # Nothing to undo: the older code reads objects as well as it read the strings.
    pass
