"""Payment facts from Paddle transactions and adjustments (pure).

- `transaction.completed`: paid. `transaction.paid` comes first for the same payment and is not counted again
  (one payment, one fact); `transaction.completed` follows once Paddle has finished processing it.
- `transaction.payment_failed`: failed, with the newest failed attempt's `error_code` as the reason.
- `adjustment.created` / `adjustment.updated`: a `refund` once its status is `approved` (most live refunds
  are created `pending_approval`); a `chargeback` as disputed when it is created. Credits, chargeback
  warnings and reversals move no money back. The payment's id is the adjustment's, the same on both events.
Amounts are the customer's totals (`details.totals.grand_total`, an adjustment's `totals.total`), tax included.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridge.billing.model import Payment
from bridge.providers.paddle.fields import major, rfc3339
from bridge.providers.values import currency_code, mapping, text

FAILED_ATTEMPTS = ("error",)  # a payment attempt's status when it failed (PaymentAttemptStatus in the SDK)


def payment(event_type: str, data: Mapping[str, Any], occurred: float) -> Payment | None:
    """The payment fact the event states, or None when it states none."""
    if event_type == "transaction.completed":
        return _transaction(data, "paid", occurred)
    if event_type == "transaction.payment_failed":
        return _transaction(data, "failed", occurred)
    if event_type in ("adjustment.created", "adjustment.updated"):
        return _adjustment(data, occurred, created=event_type == "adjustment.created")
    return None


def _transaction(data: Mapping[str, Any], kind: str, occurred: float) -> Payment:
    totals = mapping(mapping(data.get("details")).get("totals"))
    currency = currency_code(totals.get("currency_code")) or currency_code(data.get("currency_code"))
    attempts = [mapping(a) for a in data.get("payments") or [] if isinstance(a, Mapping)]
    if kind == "paid":
        captured = [rfc3339(a.get("captured_at")) for a in attempts if a.get("status") == "captured"]
        at, reason = max((t for t in captured if t is not None), default=None), text(data.get("origin"))
    else:
        failed = sorted((a for a in attempts if a.get("status") in FAILED_ATTEMPTS),
                        key=lambda a: rfc3339(a.get("created_at")) or 0.0)
        at = rfc3339(failed[-1].get("created_at")) if failed else None
        reason = text(failed[-1].get("error_code")) if failed else None
    return Payment(
        kind=kind,
        id=text(data.get("id")),
        amount=major(totals.get("grand_total"), currency),
        currency=currency,
        at=at if at is not None else occurred,
        subscription_id=text(data.get("subscription_id")),
        invoice_id=text(data.get("id")),  # the transaction: what an adjustment names too
        attempt_count=len(attempts) or None,
        reason=reason,
    )


def _adjustment(data: Mapping[str, Any], occurred: float, created: bool) -> Payment | None:
    action, status = data.get("action"), data.get("status")
    if action == "refund" and status == "approved":
        kind = "refunded"
    elif action == "chargeback" and created:  # a later update (a reversal) is no second dispute
        kind = "disputed"
    else:
        return None
    totals = mapping(data.get("totals"))
    currency = currency_code(totals.get("currency_code")) or currency_code(data.get("currency_code"))
    at = rfc3339(data.get("updated_at")) if kind == "refunded" else rfc3339(data.get("created_at"))
    return Payment(
        kind=kind,
        id=text(data.get("id")),
        amount=major(totals.get("total"), currency),
        currency=currency,
        at=at if at is not None else occurred,
        subscription_id=text(data.get("subscription_id")),
        invoice_id=text(data.get("transaction_id")),
        reason=text(data.get("reason")),
    )
