"""The database tables, shared by the store, the outbox and the migrations.

Times are unix seconds as floats (`*_at`), except source times of values, which are epoch milliseconds.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData()

Id = BigInteger().with_variant(Integer, "sqlite")

events = Table(
    "events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("provider", String(64), nullable=False),  # a provider key: <name>, <name>/<source>, <name>:<account>
    Column("event_id", String(255), nullable=False),
    Column("type", String(255), nullable=False),
    Column("created", Float, nullable=False),
    Column("livemode", Boolean),
    Column("api_version", String(64)),
    Column("connect_account", String(255)),
    Column("customer_id", String(255)),
    Column("account_id", String(255)),
    Column("payload", Text),
    Column("received_at", Float, nullable=False),
    Column("status", String(24), nullable=False),
    Column("detail", Text),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Float, nullable=False, default=0.0),
    Column("claimed_by", String(64)),
    Column("claimed_until", Float),
    Column("processed_at", Float),
    Column("mapping_version", String(16)),
    Column("request_id", String(128)),  # the webhook request's X-Request-ID, for log lines about the event
    UniqueConstraint("provider", "event_id", name="uq_events_provider_event_id"),
    Index("ix_events_status_due", "status", "next_attempt_at"),
    # `bridge status` and /metrics: the API versions of the last 30 days, read from this index alone; the admin
    # console's event list pages through it too, newest first by (received_at, id)
    Index("ix_events_received", "received_at", "provider", "api_version", "status"),
    # The same counts grouped without sorting a month of events first (SQLite: 2x faster at a million events)
    Index("ix_events_versions", "api_version", "status", "provider", "received_at"),
    # The admin console's event list within one filter (ix_events_customer_received also serves look-ups by customer)
    Index("ix_events_provider_received", "provider", "received_at", "id"),
    Index("ix_events_status_received", "status", "received_at", "id"),
    Index("ix_events_type_received", "type", "received_at", "id"),
    Index("ix_events_customer_received", "customer_id", "received_at", "id"),
    Index("ix_events_account_received", "account_id", "received_at", "id"),
)

# One row per (kind, id, field): the newest value by source time, which is both the metadata outbox
# and the ordering guard. `version` counts accepted changes, `sent_version` the one Pendo has.
field_values = Table(
    "field_values",
    metadata,
    Column("kind", String(16), primary_key=True),
    Column("entity_id", String(255), primary_key=True),
    Column("field", String(255), primary_key=True),
    Column("value", Text, nullable=False),
    Column("source_time", BigInteger, nullable=False),
    Column("rank", Integer, nullable=False, default=0),
    Column("event_id", String(255)),
    Column("mapping_version", String(16)),
    Column("create_allowed", Boolean, nullable=False, default=False),
    Column("version", Integer, nullable=False, default=1),
    Column("sent_version", Integer, nullable=False, default=0),
    Column("state", String(24), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Float, nullable=False, default=0.0),
    Column("first_missing_at", Float),
    Column("claimed_by", String(64)),
    Column("claimed_until", Float),
    Column("reclaims", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("updated_at", Float, nullable=False),
    Column("source", String(64)),  # who sent the newest value: an API key's name or "import:…"; NULL for webhooks
    Index("ix_field_values_state_due", "state", "next_attempt_at"),
    Index("ix_field_values_event", "event_id"),  # an event's values, for the admin console
    Index("ix_field_values_reclaimed", "reclaims", sqlite_where=text("reclaims > 0"),
          postgresql_where=text("reclaims > 0")),  # `possible_duplicates` without reading every row
)

track_events = Table(
    "track_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("event_id", String(255), nullable=False),
    Column("rule", String(255), nullable=False),
    Column("payload", Text),
    Column("timestamp_ms", BigInteger, nullable=False),
    Column("mapping_version", String(16)),
    Column("state", String(24), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Float, nullable=False, default=0.0),
    Column("claimed_by", String(64)),
    Column("claimed_until", Float),
    Column("reclaims", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("created_at", Float, nullable=False),
    Column("delivered_at", Float),
    Column("source", String(64)),  # an API key's name; NULL for webhooks
    UniqueConstraint("event_id", "rule", name="uq_track_events_event_rule"),
    Index("ix_track_events_state_due", "state", "next_attempt_at"),
    Index("ix_track_events_reclaimed", "reclaims", sqlite_where=text("reclaims > 0"),
          postgresql_where=text("reclaims > 0")),
)

# Provider objects fetched for enrichment (customers, subscriptions, prices), refreshed by their own events.
provider_objects = Table(
    "provider_objects",
    metadata,
    Column("provider", String(64), nullable=False),  # a provider key: <name>, <name>/<source>, <name>:<account>
    Column("object_id", String(255), nullable=False),
    Column("payload", Text, nullable=False),
    Column("fetched_at", Float, nullable=False),
    PrimaryKeyConstraint("provider", "object_id", name="pk_provider_objects"),
)

# Deployment-wide switches every process reads, such as the pause after Pendo refused the key.
controls = Table(
    "controls",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text),
    Column("updated_at", Float, nullable=False),
)

# The request budget toward Pendo, one row per name, shared by every process of the deployment.
# Row "all" paces every request (GCRA: `tat` is the theoretical arrival time of the next request);
# rows "metadata" and "track" hold that endpoint's shared wait (`not_before`: Retry-After or backoff)
# and its consecutive transient failures. `window_second`/`window_count`/`last_count` count requests per second.
pendo_budget = Table(
    "pendo_budget",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("tat", Float, nullable=False, default=0.0),
    Column("not_before", Float, nullable=False, default=0.0),
    Column("failures", Integer, nullable=False, default=0),
    Column("window_second", BigInteger, nullable=False, default=0),
    Column("window_count", Integer, nullable=False, default=0),
    Column("last_count", Integer, nullable=False, default=0),
    Column("sent_total", BigInteger, nullable=False, default=0),
    Column("updated_at", Float, nullable=False, default=0.0),
)

# Alerts sent per condition, so that every process together sends at most one per condition per period.
alert_log = Table(
    "alert_log",
    metadata,
    Column("condition", String(255), primary_key=True),
    Column("last_sent_at", Float, nullable=False),
    Column("suppressed", Integer, nullable=False, default=0),
    Column("total", Integer, nullable=False, default=0),
)

# Billing state: the latest snapshot of each provider's subscription, by (source_time, rank) like
# `field_values`, from which an account's billing fields are rolled up (`bridge.store.billing_state`).
subscriptions = Table(
    "subscriptions",
    metadata,
    Column("provider", String(64), nullable=False),  # a provider key: <name>, <name>/<source>, <name>:<account>
    Column("subscription_id", String(255), nullable=False),
    Column("account_id", String(255)),
    Column("customer_id", String(255)),
    Column("status", String(32)),
    Column("snapshot", Text, nullable=False),
    Column("source_time", BigInteger, nullable=False),
    Column("rank", Integer, nullable=False, default=0),
    Column("mrr", Float),
    Column("event_id", String(255)),
    Column("updated_at", Float, nullable=False),
    PrimaryKeyConstraint("provider", "subscription_id", name="pk_subscriptions"),
    Index("ix_subscriptions_account", "account_id"),
)

# One row per account with billing state: its row lock serialises roll-ups of one account, and `revision`
# orders them (each roll-up reflects every snapshot known when it was made).
billing_accounts = Table(
    "billing_accounts",
    metadata,
    Column("account_id", String(255), primary_key=True),
    Column("revision", Integer, nullable=False, default=0),
    Column("updated_at", Float, nullable=False),
)

# A provider's customer → Pendo account, learned from the identity slots events carry, or imported
# (`bridge link import`); kept when the customer is deleted or purged.
customer_links = Table(
    "customer_links",
    metadata,
    Column("provider", String(64), nullable=False),  # a provider key: <name>, <name>/<source>, <name>:<account>
    Column("customer_id", String(255), nullable=False),
    Column("account_id", String(255), nullable=False),
    Column("source", String(32), nullable=False),
    Column("updated_at", Float, nullable=False),
    PrimaryKeyConstraint("provider", "customer_id", name="pk_customer_links"),
)

# Values and track events Pendo accepted, counted per minute (unix seconds // 60) for the admin console's chart;
# rows older than a week are deleted as new ones are counted.
delivery_minutes = Table(
    "delivery_minutes",
    metadata,
    Column("minute", BigInteger, primary_key=True, autoincrement=False),
    Column("delivered", Integer, nullable=False, default=0),
)

# Keys of the HTTP API (`/v1/...`): only a hash of each key is kept. `tat` paces the key's requests (GCRA, like
# `pendo_budget`), the counters show its use in `bridge status` (`bridge.store.keys`).
api_keys = Table(
    "api_keys",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("key_id", String(16), nullable=False),
    Column("key_hash", String(64), nullable=False),
    Column("scopes", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("revoked_at", Float),
    Column("tat", Float, nullable=False, default=0.0),
    Column("requests", BigInteger, nullable=False, default=0),
    Column("accepted", BigInteger, nullable=False, default=0),
    Column("duplicates", BigInteger, nullable=False, default=0),
    Column("rejected", BigInteger, nullable=False, default=0),
    Column("limited", BigInteger, nullable=False, default=0),
    Column("last_used_at", Float),
    UniqueConstraint("key_id", name="uq_api_keys_key_id"),
)
