"""The provider-neutral billing model: what every provider's events become, and what the core computes on (pure).

A provider package turns one verified event into `Facts`: who it is about (`Identity`, read from the provider's
identity slots only — the link table and the fallbacks are the core's), and whichever of a subscription snapshot,
a payment and a customer the event carries. Amounts are `Decimal` in major units (49.00, not 4900); currencies
are ISO 4217 upper case; times are unix seconds. `None` always means "the provider did not say": the core
withholds what depends on it, with a warning, and never guesses. See docs/billing.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

# One status vocabulary for every provider (each package maps its own names onto it).
STATUSES = ("trialing", "active", "past_due", "paused", "unpaid", "canceled", "incomplete")
INTERVALS = ("day", "week", "month", "year")
PAYMENT_KINDS = ("paid", "failed", "action_required", "refunded", "disputed")


@dataclass(frozen=True)
class Identity:
    """Where the event's Pendo ids come from, as the provider's own identity slots give them."""

    customer_id: str | None = None
    account_id: str | None = None  # e.g. metadata `pendo_account_id`; None when the slot is empty
    visitor_id: str | None = None
    email: str | None = None  # the customer's, for a visitor fallback
    # The event is about no customer at all (a guest checkout, a refund of a guest's payment): no later event can
    # name its account, so a rule left without ids is skipped, not kept waiting (docs/billing.md, "Identity").
    guest: bool = False


@dataclass(frozen=True)
class Item:
    """One priced line of a subscription."""

    price_id: str | None
    plan: str | None  # the name the provider shows for the plan or product
    amount: Decimal | None  # per billing period, whole quantity, before discounts and tax; None: unknown, see gap
    currency: str | None
    interval: str | None  # one of INTERVALS
    interval_count: int = 1
    quantity: int | None = 1
    metered: bool = False  # usage-based lines have no recurring amount and are left out of MRR
    product_id: str | None = None
    lookup_key: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)  # the price's, e.g. `pendo_plan`
    gap: str | None = None  # why `amount` is unknown
    # A tax-inclusive price: 1 + the tax rate its amount included (`amount` is already net of it). An amount off is
    # taken from the tax-inclusive amount before the tax is removed, so it is divided by this too.
    tax_divisor: Decimal = Decimal(1)
    plan_gap: str | None = None  # why `plan` is only an id: the name needs a look-up the provider could not make


@dataclass(frozen=True)
class Discount:
    """A discount that counts toward MRR: a percentage, or an amount per billing period in `currency`."""

    percent_off: Decimal | None = None
    amount_off: Decimal | None = None
    currency: str | None = None
    ends_at: float | None = None  # None: forever (or until removed)
    price_ids: tuple[str, ...] = ()  # the items it applies to; empty: the whole subscription


@dataclass(frozen=True)
class Subscription:
    """A subscription as of one event."""

    provider: str
    id: str
    customer_id: str | None
    status: str | None  # one of STATUSES
    items: tuple[Item, ...] = ()
    discounts: tuple[Discount, ...] = ()
    currency: str | None = None
    created_at: float | None = None
    trial_end: float | None = None
    period_end: float | None = None
    cancel_at_period_end: bool | None = None
    cancels_at: float | None = None
    canceled_at: float | None = None
    paused: bool | None = None  # collection paused (the subscription stays in place)
    resumes_at: float | None = None
    mrr: Decimal | None = None  # the provider's own published MRR, used as it is when given
    gaps: tuple[str, ...] = ()  # what the provider cannot give for this subscription, said to the operator
    cancel_reason: str | None = None  # the customer's reason for a cancellation, as the provider words it


@dataclass(frozen=True)
class Payment:
    """A payment fact: an invoice paid or failed, a refund, a dispute."""

    kind: str  # one of PAYMENT_KINDS
    id: str | None
    amount: Decimal | None
    currency: str | None
    at: float | None
    subscription_id: str | None = None
    invoice_id: str | None = None
    attempt_count: int | None = None
    reason: str | None = None  # a billing reason, failure or dispute reason, as the provider words it


@dataclass(frozen=True)
class Customer:
    """A customer fact."""

    id: str
    email: str | None = None
    name: str | None = None
    delinquent: bool | None = None


# What kind of thing an event reports, in every provider's words: the event types of rules for any provider
# (`provider: "*"`). A "notice" repeats what another event of the same provider reports.
KINDS = (
    "subscription.created", "subscription.updated", "subscription.canceled", "subscription.trial_ending",
    "subscription.notice", *(f"payment.{kind}" for kind in PAYMENT_KINDS), "customer.updated", "other",
)


@dataclass(frozen=True)
class Facts:
    """What one event says in the model's terms."""

    identity: Identity
    subscription: Subscription | None = None
    payment: Payment | None = None
    customer: Customer | None = None
    trial_ending: bool = False  # the provider's "trial ends soon" notice
    # The subscription as this event says it was just before (its previous attributes); None: the event
    # does not say, and the core compares with the snapshot it stored. A notice repeating a change another event
    # reports gives the subscription itself (nothing changed), so lifecycle events are not sent twice.
    before: Subscription | None = None
    kind: str | None = None  # one of KINDS; None: the core tells it from the facts (bridge.billing.kinds)
