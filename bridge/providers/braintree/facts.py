"""What a Braintree notification says in the billing model's terms (pure).

Subscription notifications carry the whole subscription: its `status`, `plan-id`, `price` per billing cycle,
`add-ons` and `discounts` (each `amount` per cycle x `quantity`, for `number-of-billing-cycles` or
`never-expires`), billing dates and trial. What it does not carry is said in `gaps`: the plan's name (the plan id
is used), its billing frequency (derived from the current billing period's dates when they span whole months),
and the currency, which belongs to the merchant account (`merchant-account-id`) and is read from the newest
transaction's `currency-iso-code` when the subscription has one.

Braintree prices per-seat plans with add-ons that have a quantity. A plan whose own price is 0.00 adds no line
when it has add-ons; each add-on line carries the plan id, so "plan Pro at 0.00 + add-on seat 49.00 x 3" is one
line of 147.00 for 3 seats. Only `never-expires` discounts count toward MRR (docs/billing.md).

Payments: `subscription_charged_successfully` / `_unsuccessfully` (the newest transaction) and `dispute_opened`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from bridge.billing.model import Customer, Discount, Facts, Item, Payment, Subscription
from bridge.providers import Event
from bridge.providers.braintree.identity import identity, latest_transaction
from bridge.providers.braintree.times import day, instant, midnight, months_between
from bridge.providers.values import currency_code, mapping, text

NAME = "braintree"
STATUSES = {"Active": "active", "Past Due": "past_due", "Canceled": "canceled", "Expired": "canceled"}
# "Pending" (a first billing date in the future, no trial) has no equivalent: withheld with a gap.
PAYMENTS = {
    "subscription_charged_successfully": "paid",
    "subscription_charged_unsuccessfully": "failed",
    "dispute_opened": "disputed",
}
Raw = Mapping[str, Any]


def facts(event: Event, enrichment: Mapping[str, Any]) -> Facts:
    """The notification's facts (`enrichment` is unused: the package has no API client)."""
    notification = mapping(event.payload.get("notification"))
    subject = mapping(notification.get("subject"))
    raw = mapping(subject.get("subscription"))
    found = subscription(raw, as_of=event.created) if raw else None
    return Facts(
        identity=identity(subject),
        subscription=found,
        payment=payment(event.type, subject, event.created),
        customer=_customer(mapping(latest_transaction(subject).get("customer"))),
    )


def subscription(raw: Raw, as_of: float | None = None) -> Subscription | None:
    """A Braintree subscription (as decoded from its XML) in the model's terms; None when `raw` is not one.

    `as_of` is the notification's time, to tell a trial still running from one that has ended; without it the
    subscription's `updated-at` is used."""
    if not isinstance(raw, Mapping) or not text(raw.get("id")) or "status" not in raw:
        return None
    gaps: list[str] = []
    currency = _currency(raw, gaps)
    interval_count = _interval_count(raw, gaps)
    items = _items(raw, currency, interval_count, gaps)
    status = _status(raw, as_of if as_of is not None else instant(raw.get("updated_at")), gaps)
    ending = _ends_after_this_cycle(raw) if raw.get("status") in ("Active", "Past Due") else False
    period_end = midnight(raw.get("next_billing_date")) if raw.get("status") in ("Active", "Past Due") else None
    return Subscription(
        provider=NAME,
        id=str(raw["id"]),
        customer_id=None,  # a subscription names no customer; Facts.identity carries its transaction's
        status=status,
        items=items,
        discounts=_discounts(raw, currency),
        currency=currency,
        created_at=instant(raw.get("created_at")),
        trial_end=midnight(raw.get("first_billing_date")) if raw.get("trial_period") is True else None,
        period_end=period_end,
        cancel_at_period_end=ending,
        cancels_at=period_end if ending else None,
        canceled_at=_canceled_at(raw),
        paused=False,  # Braintree has no pause: a subscription is active, past due, canceled or expired
        mrr=None,  # Braintree publishes no MRR
        gaps=tuple(gaps),
    )


def _status(raw: Raw, as_of: float | None, gaps: list[str]) -> str | None:
    value = raw.get("status")
    status = STATUSES.get(value) if isinstance(value, str) else None
    if status is None:
        gaps.append(f"status {value!r} has no equivalent in the billing model")
        return None
    first = day(raw.get("first_billing_date"))
    if status == "active" and raw.get("trial_period") is True and first is not None and as_of is not None:
        if first > datetime.fromtimestamp(as_of, UTC).date():
            return "trialing"
    return status


def _currency(raw: Raw, gaps: list[str]) -> str | None:
    """The newest transaction's currency; else a gap naming the merchant account the currency belongs to."""
    listed = raw.get("transactions")
    for transaction in listed if isinstance(listed, list) else []:
        code = transaction.get("currency_iso_code") if isinstance(transaction, Mapping) else None
        if isinstance(code, str) and len(code) == 3 and code.isalpha():
            return code.upper()
    account = text(raw.get("merchant_account_id")) or "the default merchant account"
    gaps.append(f"the currency is that of {account}, which the notification does not give until a transaction "
                "is billed")
    return None


def _interval_count(raw: Raw, gaps: list[str]) -> int | None:
    """The plan's billing frequency in months, from the current billing period's first and last day."""
    start, end = day(raw.get("billing_period_start_date")), day(raw.get("billing_period_end_date"))
    count = months_between(start, end) if start is not None and end is not None else None
    if count is None:
        gaps.append("the billing frequency is the plan's, which the notification does not give (no whole-month "
                    "billing period to read it from)")
    return count


def _items(raw: Raw, currency: str | None, interval_count: int | None, gaps: list[str]) -> tuple[Item, ...]:
    plan_id = text(raw.get("plan_id"))
    price = _amount(raw.get("price"))
    add_ons = [entry for entry in _list(raw.get("add_ons")) if isinstance(entry, Mapping)]
    lines = [] if price == 0 and add_ons else [
        _item(plan_id, plan_id, price, 1, currency, interval_count, "the subscription's price is not a number")]
    for add_on in add_ons:
        quantity = _quantity(add_on.get("quantity"))
        unit = _amount(add_on.get("amount"))
        total = unit * quantity if unit is not None and quantity is not None else None
        lines.append(_item(plan_id, text(add_on.get("id")), total, quantity, currency, interval_count,
                           "an add-on's amount or quantity is not a number"))
    gaps.extend(line.gap for line in lines if line.gap)
    return tuple(lines)


def _item(plan_id: str | None, price_id: str | None, amount: Decimal | None, quantity: int | None,
          currency: str | None, interval_count: int | None, unreadable: str) -> Item:
    return Item(price_id=price_id, plan=plan_id, amount=amount, currency=currency,
                interval="month" if interval_count else None, interval_count=interval_count or 1,
                quantity=quantity, product_id=plan_id, gap=unreadable if amount is None else None)


def _discounts(raw: Raw, currency: str | None) -> tuple[Discount, ...]:
    """Discounts that never expire, as an amount off per billing cycle (amount x quantity)."""
    found = []
    for entry in _list(raw.get("discounts")):
        if not isinstance(entry, Mapping) or entry.get("never_expires") is not True:
            continue
        unit, quantity = _amount(entry.get("amount")), _quantity(entry.get("quantity"))
        if unit is not None and quantity is not None:
            found.append(Discount(amount_off=unit * quantity, currency=currency))
    return tuple(found)


def _ends_after_this_cycle(raw: Raw) -> bool:
    """Whether a subscription with a fixed number of billing cycles is in its last one (it then expires)."""
    total, current = _quantity(raw.get("number_of_billing_cycles")), _quantity(raw.get("current_billing_cycle"))
    return raw.get("never_expires") is False and total is not None and current is not None and current >= total


def _canceled_at(raw: Raw) -> float | None:
    """When it was canceled or expired: its status-history entry for that status, else `updated-at`."""
    status = raw.get("status")
    if status not in ("Canceled", "Expired"):
        return None
    for entry in _list(raw.get("status_history")):
        if isinstance(entry, Mapping) and entry.get("status") == status and instant(entry.get("timestamp")):
            return instant(entry.get("timestamp"))
    return instant(raw.get("updated_at"))


def payment(kind: str, subject: Raw, at: float) -> Payment | None:
    """A payment fact for a charge (the subscription's newest transaction) or an opened dispute."""
    what = PAYMENTS.get(kind)
    if what is None:
        return None
    if what == "disputed":
        dispute = mapping(subject.get("dispute"))
        transaction = mapping(dispute.get("transaction"))
        return Payment(kind=what, id=text(dispute.get("id")),
                       amount=_amount(dispute.get("amount_disputed") or dispute.get("amount")),
                       currency=currency_code(dispute.get("currency_iso_code")),
                       at=instant(dispute.get("created_at")) or midnight(dispute.get("date_opened")) or at,
                       invoice_id=text(transaction.get("id")), reason=text(dispute.get("reason")))
    sub = mapping(subject.get("subscription"))
    transaction = latest_transaction(subject)
    failures = _quantity(sub.get("failure_count"))
    return Payment(kind=what, id=text(transaction.get("id")), amount=_amount(transaction.get("amount")),
                   currency=currency_code(transaction.get("currency_iso_code")),
                   at=instant(transaction.get("created_at")) or at, subscription_id=text(sub.get("id")),
                   invoice_id=text(transaction.get("id")),
                   attempt_count=failures if what == "failed" and failures else None,
                   reason=_failure(transaction) if what == "failed" else None)


def _failure(transaction: Raw) -> str | None:
    for key in ("processor_response_text", "gateway_rejection_reason", "status"):
        if text(transaction.get(key)):
            return text(transaction.get(key))
    return None


def _customer(customer: Raw) -> Customer | None:
    if not text(customer.get("id")):
        return None
    names = [customer.get("first_name"), customer.get("last_name")]
    name = " ".join(part for part in names if isinstance(part, str) and part) or text(customer.get("company"))
    return Customer(id=str(customer["id"]), email=text(customer.get("email")), name=name)


def _amount(value: object) -> Decimal | None:
    """A Braintree amount (`49.00`, major units, as text) as a Decimal; None when it is not one."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        found = Decimal(value.strip())
    except InvalidOperation:
        return None
    return found if found.is_finite() and found >= 0 else None


def _quantity(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []
