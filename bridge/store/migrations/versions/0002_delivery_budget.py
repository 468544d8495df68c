"""delivery budget

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('request_id', sa.String(length=128), nullable=True))
    op.create_table('pendo_budget',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('tat', sa.Float(), nullable=False),
    sa.Column('not_before', sa.Float(), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('window_second', sa.BigInteger(), nullable=False),
    sa.Column('window_count', sa.Integer(), nullable=False),
    sa.Column('last_count', sa.Integer(), nullable=False),
    sa.Column('sent_total', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('alert_log',
    sa.Column('condition', sa.String(length=255), nullable=False),
    sa.Column('last_sent_at', sa.Float(), nullable=False),
    sa.Column('suppressed', sa.Integer(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('condition')
    )


def downgrade() -> None:
    op.drop_table('alert_log')
    op.drop_table('pendo_budget')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_column('request_id')
