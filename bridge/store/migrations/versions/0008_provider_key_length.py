"""provider keys: the `provider` columns hold 64 characters

A provider's rows are keyed by its provider key (`stripe`, a named source's `stripe/eu`, a connected account's
`stripe:acct_1`, docs/providers/README.md), which no longer fits the 32 characters of a provider name. Every row
already stored keeps its value: those are the default source's keys. PostgreSQL widens the columns in place; SQLite
does not enforce a length, so there is nothing to change there.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

TABLES = ('events', 'subscriptions', 'customer_links', 'provider_objects')


def _resize(length: int) -> None:
    if op.get_bind().dialect.name == 'sqlite':
        return
    for table in TABLES:
        op.alter_column(table, 'provider', type_=sa.String(length=length), existing_nullable=False)


def upgrade() -> None:
    _resize(64)


def downgrade() -> None:
    """Back to 32 characters: refused by PostgreSQL while a longer key is stored (delete those rows first)."""
    _resize(32)
