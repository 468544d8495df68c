"""Recurly's payment facts: an invoice paid, a transaction declined, a refund (pure).

Recurly announces the same money twice — a transaction (`payment.succeeded`, a legacy notification) and the charge
invoice it pays (`charge_invoice.paid`) — so only one is read for each fact: `charge_invoice.paid` for a paid
invoice (Recurly's recommended invoice-level notification), `payment.failed` for each declined attempt (the invoice
only says past due), `payment.refunded` for a refund. `payment.succeeded` is stored but not mapped. Amounts come
from the objects `api.enrichment` fetched (`invoice`, `transaction`); without them only the kind, the id and the time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridge.billing.model import Payment
from bridge.providers import Event
from bridge.providers.recurly.fields import first_id
from bridge.providers.standard.payload import iso_time
from bridge.providers.values import currency_code, decimal, mapping, text

TRANSACTIONS: Mapping[str, str] = {"payment.failed": "failed", "payment.refunded": "refunded"}
INVOICE_PAID = "charge_invoice.paid"


def payment(event: Event, enrichment: Mapping[str, Any]) -> Payment | None:
    """The payment fact an event carries, or None for events that are not one."""
    if event.type == INVOICE_PAID:
        return _invoice_paid(event, mapping(enrichment.get("invoice")))
    kind = TRANSACTIONS.get(event.type)
    return _transaction(event, kind, mapping(enrichment.get("transaction"))) if kind else None


def _invoice_paid(event: Event, invoice: Mapping[str, Any]) -> Payment:
    return Payment(
        kind="paid",
        id=text(invoice.get("id")) or text(event.payload.get("id")),
        amount=decimal(invoice.get("paid")) if invoice.get("paid") is not None else decimal(invoice.get("total")),
        currency=currency_code(invoice.get("currency")),
        at=iso_time(invoice.get("closed_at")) or event.created,
        subscription_id=first_id(invoice.get("subscription_ids")),
        invoice_id=text(invoice.get("id")) or text(event.payload.get("id")),
        reason=text(invoice.get("origin")),
    )


def _transaction(event: Event, kind: str, transaction: Mapping[str, Any]) -> Payment:
    return Payment(
        kind=kind,
        id=text(transaction.get("id")) or text(event.payload.get("id")),
        amount=decimal(transaction.get("amount")),
        currency=currency_code(transaction.get("currency")),
        at=iso_time(transaction.get("collected_at")) or iso_time(transaction.get("created_at")) or event.created,
        subscription_id=first_id(transaction.get("subscription_ids")),
        invoice_id=text(mapping(transaction.get("invoice")).get("id")),
        reason=text(transaction.get("status_message")) if kind == "failed" else None,
    )
