"""admin console: indexes for the event list, the overview's counts, an event's values and re-sent rows;
deliveries per minute

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

EVENT_INDEXES = {
    'ix_events_versions': ['api_version', 'status', 'provider', 'received_at'],
    'ix_events_provider_received': ['provider', 'received_at', 'id'],
    'ix_events_status_received': ['status', 'received_at', 'id'],
    'ix_events_type_received': ['type', 'received_at', 'id'],
    'ix_events_customer_received': ['customer_id', 'received_at', 'id'],
    'ix_events_account_received': ['account_id', 'received_at', 'id'],
}
RECLAIMED = ('field_values', 'track_events')  # partial indexes: the few rows a second worker re-sent


def upgrade() -> None:
    # IF NOT EXISTS: on a big PostgreSQL table an operator may build these first with CREATE INDEX CONCURRENTLY,
    # which does not hold up webhooks as this transaction does (docs/operations.md, "Database").
    for name, columns in EVENT_INDEXES.items():
        op.create_index(name, 'events', columns, unique=False, if_not_exists=True)
    op.drop_index('ix_events_customer', table_name='events', if_exists=True)  # ix_events_customer_received serves it
    op.create_index('ix_field_values_event', 'field_values', ['event_id'], unique=False, if_not_exists=True)
    for table in RECLAIMED:
        op.create_index(f'ix_{table}_reclaimed', table, ['reclaims'], unique=False, if_not_exists=True,
                        sqlite_where=sa.text('reclaims > 0'), postgresql_where=sa.text('reclaims > 0'))
    op.create_table('delivery_minutes',
    sa.Column('minute', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('delivered', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('minute')
    )


def downgrade() -> None:
    op.drop_table('delivery_minutes')
    for table in RECLAIMED:
        op.drop_index(f'ix_{table}_reclaimed', table_name=table)
    op.drop_index('ix_field_values_event', table_name='field_values')
    op.create_index('ix_events_customer', 'events', ['customer_id'], unique=False)
    for name in EVENT_INDEXES:
        op.drop_index(name, table_name='events')
