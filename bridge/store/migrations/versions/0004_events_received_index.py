"""events by time received, with their provider, API version and status

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_events_received', 'events', ['received_at', 'provider', 'api_version', 'status'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_events_received', table_name='events')
