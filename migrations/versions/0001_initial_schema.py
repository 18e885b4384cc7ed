"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-28

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = '0001'
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    # Feast's SQL registry keeps its own tables in this schema (see recsys.infra.feast_store).
    op.execute("CREATE SCHEMA IF NOT EXISTS feast_registry")
    op.create_table('drift_reports',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('period_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('period_end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('model_version', sa.Integer(), nullable=True),
    sa.Column('current_rows', sa.Integer(), nullable=False),
    sa.Column('reference_rows', sa.Integer(), nullable=False),
    sa.Column('drifted_columns', sa.Integer(), nullable=False),
    sa.Column('total_columns', sa.Integer(), nullable=False),
    sa.Column('drift_share', sa.Double(), nullable=False),
    sa.Column('dataset_drift', sa.Boolean(), nullable=False),
    sa.Column('columns', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('html_path', sa.Text(), nullable=False),
    sa.Column('json_path', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_drift_reports'))
    )
    op.create_table('item_features',
    sa.Column('item_id', sa.Text(), nullable=False),
    sa.Column('event_timestamp', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('interaction_count', sa.BigInteger(), nullable=False),
    sa.Column('mean_rating', sa.Double(), nullable=True),
    sa.Column('last_interaction_ts', sa.BigInteger(), nullable=True),
    sa.Column('days_since_last_interaction', sa.Double(), nullable=True),
    sa.Column('genres', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('item_id', 'event_timestamp', name=op.f('pk_item_features'))
    )
    op.create_table('items',
    sa.Column('item_id', sa.Text(), nullable=False),
    sa.Column('title', sa.Text(), nullable=True),
    sa.Column('genres', sa.ARRAY(sa.Text()), server_default='{}', nullable=False),
    sa.Column('attributes', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('item_id', name=op.f('pk_items'))
    )
    op.create_table('models',
    sa.Column('version', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('algorithm', sa.String(length=64), nullable=False),
    sa.Column('params', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('feature_service', sa.String(length=128), nullable=False),
    sa.Column('train_start', sa.DateTime(timezone=True), nullable=True),
    sa.Column('train_end', sa.DateTime(timezone=True), nullable=True),
    sa.Column('n_interactions', sa.BigInteger(), nullable=False),
    sa.Column('metrics', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('artifact_path', sa.Text(), nullable=False),
    sa.Column('artifact_sha256', sa.String(length=64), nullable=False),
    sa.Column('reference_path', sa.Text(), nullable=True),
    sa.Column('is_active', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('version', name=op.f('pk_models'))
    )
    op.create_index('uq_models_one_active', 'models', ['is_active'], unique=True, postgresql_where='is_active')
    op.create_table('served_requests',
    sa.Column('request_id', sa.UUID(), nullable=False),
    sa.Column('served_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('user_id', sa.Text(), nullable=False),
    sa.Column('model_version', sa.Integer(), nullable=True),
    sa.Column('algorithm', sa.String(length=64), nullable=False),
    sa.Column('fallback', sa.Boolean(), nullable=False),
    sa.Column('k', sa.Integer(), nullable=False),
    sa.Column('items', sa.ARRAY(sa.Text()), nullable=False),
    sa.Column('scores', sa.ARRAY(sa.Double()), nullable=False),
    sa.Column('features', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('latency_ms', sa.Double(), nullable=False),
    sa.PrimaryKeyConstraint('request_id', name=op.f('pk_served_requests'))
    )
    op.create_index(op.f('ix_served_requests_served_at'), 'served_requests', ['served_at'], unique=False)
    op.create_index(op.f('ix_served_requests_user_id'), 'served_requests', ['user_id'], unique=False)
    op.create_table('user_features',
    sa.Column('user_id', sa.Text(), nullable=False),
    sa.Column('event_timestamp', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('interaction_count', sa.BigInteger(), nullable=False),
    sa.Column('mean_rating', sa.Double(), nullable=True),
    sa.Column('last_interaction_ts', sa.BigInteger(), nullable=True),
    sa.Column('days_since_last_interaction', sa.Double(), nullable=True),
    sa.PrimaryKeyConstraint('user_id', 'event_timestamp', name=op.f('pk_user_features'))
    )
    op.create_table('users',
    sa.Column('user_id', sa.Text(), nullable=False),
    sa.Column('attributes', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_users'))
    )
    op.create_table('interactions',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('user_id', sa.Text(), nullable=False),
    sa.Column('item_id', sa.Text(), nullable=False),
    sa.Column('rating', sa.Double(), nullable=True),
    sa.Column('event_type', sa.String(length=32), server_default='rating', nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['items.item_id'], name=op.f('fk_interactions_item_id_items')),
    sa.ForeignKeyConstraint(['user_id'], ['users.user_id'], name=op.f('fk_interactions_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_interactions'))
    )
    op.create_index(op.f('ix_interactions_item_id'), 'interactions', ['item_id'], unique=False)
    op.create_index(op.f('ix_interactions_occurred_at'), 'interactions', ['occurred_at'], unique=False)
    op.create_index(op.f('ix_interactions_user_id_occurred_at'), 'interactions', ['user_id', 'occurred_at'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(op.f('ix_interactions_user_id_occurred_at'), table_name='interactions')
    op.drop_index(op.f('ix_interactions_occurred_at'), table_name='interactions')
    op.drop_index(op.f('ix_interactions_item_id'), table_name='interactions')
    op.drop_table('interactions')
    op.drop_table('users')
    op.drop_table('user_features')
    op.drop_index(op.f('ix_served_requests_user_id'), table_name='served_requests')
    op.drop_index(op.f('ix_served_requests_served_at'), table_name='served_requests')
    op.drop_table('served_requests')
    op.drop_index('uq_models_one_active', table_name='models', postgresql_where='is_active')
    op.drop_table('models')
    op.drop_table('items')
    op.drop_table('item_features')
    op.drop_table('drift_reports')
    op.execute("DROP SCHEMA IF EXISTS feast_registry CASCADE")
