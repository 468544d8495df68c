"""Who a Braintree notification is about, and the Pendo ids it can carry (pure).

A Braintree subscription names no customer and has no metadata: it has a `payment-method-token`, and each of its
transactions names the `customer` (id, email) the payment method belongs to. So the customer id is read from
the subscription's most recent transaction (Braintree lists them newest first), or from a transaction subject;
when there is none yet (a trial, a subscription pending its first billing date), the payment method token
stands in, written `token:<token>`, so the link table can still be keyed on something stable.

The only identity slots are a transaction's custom fields `pendo_account_id` / `pendo_visitor_id`, which exist
only when the merchant defines them in the Control Panel (as "stored and passed back" custom fields) and its
integration sets them on the transactions it creates; a subscription's charges, created by Braintree's recurring
billing, are not known to carry them. Otherwise the admin links the Braintree customer id to a Pendo account in
bridge's link table (docs/providers/braintree.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridge.billing.model import Identity
from bridge.providers.values import text

ACCOUNT_SLOT = "pendo_account_id"
VISITOR_SLOT = "pendo_visitor_id"
TOKEN_PREFIX = "token:"  # noqa: S105 (a label for a payment method token, not a secret)


def latest_transaction(subject: Mapping[str, Any]) -> Mapping[str, Any]:
    """The transaction a notification is about: the subject's own, else its subscription's newest."""
    transaction = subject.get("transaction")
    if isinstance(transaction, Mapping):
        return transaction
    subscription = subject.get("subscription")
    listed = subscription.get("transactions") if isinstance(subscription, Mapping) else None
    if isinstance(listed, list) and listed and isinstance(listed[0], Mapping):
        return listed[0]
    dispute = subject.get("dispute")
    details = dispute.get("transaction") if isinstance(dispute, Mapping) else None
    return details if isinstance(details, Mapping) else {}


def customer_of(subject: Mapping[str, Any]) -> str | None:
    """The Braintree customer id, else `token:<payment method token>` of the subscription; None when neither."""
    customer = latest_transaction(subject).get("customer")
    found = text(customer.get("id")) if isinstance(customer, Mapping) else None
    if found:
        return found
    found = text(latest_transaction(subject).get("customer_id"))
    if found:
        return found
    subscription = subject.get("subscription")
    token = text(subscription.get("payment_method_token")) if isinstance(subscription, Mapping) else None
    return TOKEN_PREFIX + token if token else None


def identity(subject: Mapping[str, Any]) -> Identity:
    """The customer id, the transaction's custom-field slots and the customer's email."""
    transaction = latest_transaction(subject)
    fields = transaction.get("custom_fields")
    fields = fields if isinstance(fields, Mapping) else {}
    customer = transaction.get("customer")
    email = text(customer.get("email")) if isinstance(customer, Mapping) else None
    return Identity(customer_id=customer_of(subject), account_id=_slot(fields.get(ACCOUNT_SLOT)),
                    visitor_id=_slot(fields.get(VISITOR_SLOT)), email=email)


def _slot(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None
