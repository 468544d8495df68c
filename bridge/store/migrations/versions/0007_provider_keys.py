"""provider keys: subscriptions, customer links and the object cache keyed by (provider, id)

Every row already stored came from the only provider there was, so it is kept under `stripe`. Each table is
rebuilt (a new table, its rows copied, the old one dropped, the new one renamed) because its primary key changes
(named `pk_<table>` from here on);
this works the same on SQLite and PostgreSQL, in the migration's one transaction. The object cache takes a
neutral name, `provider_objects`.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

EXISTING = 'stripe'  # the provider of every row written before this revision


def _provider() -> sa.Column:
    return sa.Column('provider', sa.String(length=32), nullable=False)


def _subscriptions(name: str, keyed: bool, pk: str) -> None:
    op.create_table(name, *([_provider()] if keyed else []),
    sa.Column('subscription_id', sa.String(length=255), nullable=False),
    sa.Column('account_id', sa.String(length=255), nullable=True),
    sa.Column('customer_id', sa.String(length=255), nullable=True),
    sa.Column('status', sa.String(length=32), nullable=True),
    sa.Column('snapshot', sa.Text(), nullable=False),
    sa.Column('source_time', sa.BigInteger(), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('mrr', sa.Float(), nullable=True),
    sa.Column('event_id', sa.String(length=255), nullable=True),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint(*(['provider'] if keyed else []), 'subscription_id', name=pk)
    )


def _links(name: str, keyed: bool, pk: str) -> None:
    op.create_table(name, *([_provider()] if keyed else []),
    sa.Column('customer_id', sa.String(length=255), nullable=False),
    sa.Column('account_id', sa.String(length=255), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint(*(['provider'] if keyed else []), 'customer_id', name=pk)
    )


def _objects(name: str, keyed: bool, pk: str) -> None:
    op.create_table(name, *([_provider()] if keyed else []),
    sa.Column('object_id', sa.String(length=255), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('fetched_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint(*(['provider'] if keyed else []), 'object_id', name=pk)
    )


SUBSCRIPTION_COLUMNS = ('subscription_id, account_id, customer_id, status, snapshot, source_time, rank, mrr, '
                        'event_id, updated_at')
LINK_COLUMNS = 'customer_id, account_id, source, updated_at'
OBJECT_COLUMNS = 'object_id, payload, fetched_at'


def _move(old: str, new: str, columns: str, keyed: bool) -> None:
    """Copy every row of `old` into `new` (under EXISTING when `new` is keyed), then drop `old`.

    The table and column names are this module's own constants, never input."""
    if keyed:
        copy = f'INSERT INTO {new} (provider, {columns}) SELECT :provider, {columns} FROM {old}'  # noqa: S608
    else:
        copy = f'INSERT INTO {new} ({columns}) SELECT {columns} FROM {old} WHERE provider = :provider'  # noqa: S608
    op.execute(sa.text(copy).bindparams(provider=EXISTING))
    op.drop_table(old)


def upgrade() -> None:
    _subscriptions('subscriptions_0007', keyed=True, pk='pk_subscriptions')
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.drop_index('ix_subscriptions_account')
    _move('subscriptions', 'subscriptions_0007', SUBSCRIPTION_COLUMNS, keyed=True)
    op.rename_table('subscriptions_0007', 'subscriptions')
    op.create_index('ix_subscriptions_account', 'subscriptions', ['account_id'], unique=False)
    _links('customer_links_0007', keyed=True, pk='pk_customer_links')
    _move('customer_links', 'customer_links_0007', LINK_COLUMNS, keyed=True)
    op.rename_table('customer_links_0007', 'customer_links')
    _objects('provider_objects', keyed=True, pk='pk_provider_objects')
    _move('stripe_objects', 'provider_objects', OBJECT_COLUMNS, keyed=True)


def downgrade() -> None:
    """Back to one provider: only the rows of EXISTING are kept."""
    _objects('stripe_objects', keyed=False, pk='stripe_objects_pkey')
    _move('provider_objects', 'stripe_objects', OBJECT_COLUMNS, keyed=False)
    _links('customer_links_0006', keyed=False, pk='customer_links_pkey')
    _move('customer_links', 'customer_links_0006', LINK_COLUMNS, keyed=False)
    op.rename_table('customer_links_0006', 'customer_links')
    op.drop_index('ix_subscriptions_account', table_name='subscriptions')
    _subscriptions('subscriptions_0006', keyed=False, pk='subscriptions_pkey')
    _move('subscriptions', 'subscriptions_0006', SUBSCRIPTION_COLUMNS, keyed=False)
    op.rename_table('subscriptions_0006', 'subscriptions')
    op.create_index('ix_subscriptions_account', 'subscriptions', ['account_id'], unique=False)
