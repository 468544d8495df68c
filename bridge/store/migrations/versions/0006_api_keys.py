"""api keys and the source of outbox rows

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('api_keys',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('key_id', sa.String(length=16), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('scopes', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('revoked_at', sa.Float(), nullable=True),
    sa.Column('tat', sa.Float(), nullable=False),
    sa.Column('requests', sa.BigInteger(), nullable=False),
    sa.Column('accepted', sa.BigInteger(), nullable=False),
    sa.Column('duplicates', sa.BigInteger(), nullable=False),
    sa.Column('rejected', sa.BigInteger(), nullable=False),
    sa.Column('limited', sa.BigInteger(), nullable=False),
    sa.Column('last_used_at', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('name'),
    sa.UniqueConstraint('key_id', name='uq_api_keys_key_id')
    )
    # Plain ADD COLUMN (no table copy): these tables can be large.
    with op.batch_alter_table('field_values', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source', sa.String(length=64), nullable=True))
    with op.batch_alter_table('track_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('track_events', schema=None) as batch_op:
        batch_op.drop_column('source')
    with op.batch_alter_table('field_values', schema=None) as batch_op:
        batch_op.drop_column('source')
    op.drop_table('api_keys')
