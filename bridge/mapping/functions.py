"""The functions mapping expressions may call, bound to one mapping set's lookups and date format.

All are None-safe: a None (missing) argument gives None rather than an error, so a field whose source is
absent from an event is simply not sent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from bridge.billing import money
from bridge.mapping import bounds
from bridge.providers.stripe import billing as stripe_billing
from bridge.providers.stripe import lifecycle

FUNCTION_NAMES = (
    "money", "date", "coalesce", "lookup", "upper", "lower", "stripe_mrr", "stripe_list_mrr", "stripe_plan",
    "stripe_seats", "stripe_interval", "stripe_period_end", "stripe_invoice_subscription", "stripe_transitions",
    "stripe_interval_changed", "stripe_mrr_lost", "stripe_refund_amount", "stripe_cancels_at",
    "stripe_collection_paused", "stripe_price_metadata", "stripe_lookup_key", "stripe_before",
)
DATE_FORMATS = ("iso", "epoch_ms")


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | tuple | dict) and len(value) == 0)


def _as_datetime(value: Any) -> datetime:
    """A unix time in seconds or an ISO 8601 string as an aware UTC datetime (naive means UTC)."""
    if isinstance(value, bool):
        raise TypeError("a date cannot be a boolean")
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value.strip())
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    raise TypeError(f"a date must be unix seconds or an ISO 8601 string, not {type(value).__name__}")


def format_date(value: Any, date_format: str) -> str | int | None:
    """A date as Pendo takes it: RFC 3339 UTC with milliseconds ("iso") or integer epoch ms."""
    if value is None:
        return None
    moment = _as_datetime(value)
    if date_format == "epoch_ms":
        return round(moment.timestamp() * 1000)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class Functions:
    """The expression functions; an instance binds the options some of them need."""

    def __init__(self, date_format: str = "iso", lookups: Mapping[str, Mapping[Any, Any]] | None = None):
        if date_format not in DATE_FORMATS:
            raise ValueError(f"date format must be one of {', '.join(DATE_FORMATS)}")
        self._date_format = date_format
        self._lookups = lookups or {}

    def namespace(self) -> dict[str, Callable[..., Any]]:
        """The functions by the names expressions use."""
        return {name: getattr(self, name) for name in FUNCTION_NAMES}

    def money(self, amount_minor: Any, currency: Any) -> float | None:
        """Minor units as major units of the currency, rounded to 2 decimals."""
        major = money.to_major(amount_minor, currency)
        return None if major is None else money.round_half_up(major)

    def date(self, value: Any) -> str | int | None:
        """Unix seconds or an ISO string in the configured Pendo date format."""
        return format_date(value, self._date_format)

    def coalesce(self, *values: Any) -> Any:
        """The first value that is neither None nor empty."""
        return next((value for value in values if not _is_empty(value)), None)

    def lookup(self, table: str, key: Any, default: Any = None) -> Any:
        """The value for `key` in a table of the mapping files' `lookups:`, else `default`."""
        if table not in self._lookups:
            raise LookupError(f"no lookup table {table!r}")
        return self._lookups[table].get(key, default)

    def upper(self, value: Any) -> str | None:
        """Upper case text."""
        return None if value is None else bounds.stringify(value, "the text for upper").upper()

    def lower(self, value: Any) -> str | None:
        """Lower case text."""
        return None if value is None else bounds.stringify(value, "the text for lower").lower()

    def stripe_mrr(self, subscription: Any) -> float | None:
        """MRR in major units: 0 unless active or past due, None when a price is tiered."""
        return stripe_billing.subscription_mrr(subscription) if subscription else None

    def stripe_list_mrr(self, subscription: Any) -> float | None:
        """MRR in major units whatever the status."""
        return stripe_billing.list_mrr(subscription) if subscription else None

    def stripe_plan(self, subscription: Any) -> str | None:
        """The main item's lookup key, nickname or price id."""
        return stripe_billing.plan_name(subscription) if subscription else None

    def stripe_seats(self, subscription: Any) -> int | None:
        """The main item's quantity."""
        return stripe_billing.seats(subscription) if subscription else None

    def stripe_interval(self, subscription: Any) -> str | None:
        """The main item's billing interval."""
        return stripe_billing.interval(subscription) if subscription else None

    def stripe_period_end(self, subscription: Any) -> int | None:
        """The current period end (unix seconds) in either API shape."""
        return stripe_billing.period_end(subscription) if subscription else None

    def stripe_invoice_subscription(self, invoice: Any) -> str | None:
        """The subscription id of an invoice in either API shape."""
        return stripe_billing.subscription_of_invoice(invoice) if invoice else None

    def stripe_transitions(self, event_type: Any, subscription: Any, previous: Any = None,
                           prior: Any = None) -> list[str]:
        """The lifecycle track event names a subscription event implies (`bridge.billing.lifecycle`)."""
        if not subscription or not isinstance(event_type, str):
            return []
        return lifecycle.transitions(event_type, subscription, previous or {}, prior or None)

    def stripe_before(self, subscription: Any, previous: Any = None, prior: Any = None) -> Any:
        """The subscription as it was before this event (previous attributes over it, else the prior snapshot)."""
        return lifecycle.before(subscription, previous or {}, prior or None) if subscription else None

    def stripe_interval_changed(self, subscription: Any, previous: Any = None) -> bool | None:
        """Whether the main billing interval changed in this event."""
        return lifecycle.interval_changed(subscription, previous or {}) if subscription else None

    def stripe_mrr_lost(self, subscription: Any, prior: Any = None) -> float | None:
        """What a deleted subscription contributed to MRR just before its deletion."""
        return lifecycle.mrr_lost(subscription, prior or None) if subscription else None

    def stripe_refund_amount(self, charge: Any, previous: Any = None) -> int | None:
        """The amount (minor units) of the refund a `charge.refunded` event is about."""
        return stripe_billing.refund_amount(charge, previous or {}) if charge else None

    def stripe_cancels_at(self, subscription: Any) -> int | None:
        """When a scheduled cancellation takes effect (unix seconds), or None."""
        return stripe_billing.cancels_at(subscription) if subscription else None

    def stripe_collection_paused(self, subscription: Any) -> bool | None:
        """Whether the subscription is paused or its collection is."""
        return stripe_billing.collection_paused(subscription) if subscription else None

    def stripe_price_metadata(self, subscription: Any, key: Any) -> Any:
        """A metadata value of the main item's price, e.g. `pendo_plan`."""
        if not subscription:
            return None
        metadata = stripe_billing.main_price(subscription).get("metadata")
        return metadata.get(key) if isinstance(metadata, Mapping) else None

    def stripe_lookup_key(self, subscription: Any) -> str | None:
        """The main item's price lookup key."""
        found = stripe_billing.main_price(subscription).get("lookup_key") if subscription else None
        return found if isinstance(found, str) and found else None


def is_function(value: Any) -> bool:
    """Whether `value` is one of the functions of some `Functions` (the sandbox calls nothing else)."""
    bound_to = getattr(value, "__self__", None)
    return isinstance(bound_to, Functions) and getattr(value, "__name__", "") in FUNCTION_NAMES
