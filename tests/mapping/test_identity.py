import pytest

from bridge.billing.model import Identity
from bridge.mapping.identity import link_of, resolve

FULL = Identity(customer_id="cus_1", account_id="acct-meta", visitor_id="user-1", email="a@example.com")
BARE = Identity(customer_id="cus_1", email="a@example.com")


def identity(found, link=None, account_fallback="none", visitor_fallback="skip"):
    return resolve(found, link, account_fallback=account_fallback, visitor_fallback=visitor_fallback,
                   synthetic_prefix="customer-")


@pytest.mark.parametrize(
    ("found", "link", "fallback", "expected"),
    [
        (FULL, "acct-link", "stripe_customer", ("acct-meta", "metadata")),
        (BARE, "acct-link", "stripe_customer", ("acct-link", "link")),
        (BARE, None, "stripe_customer", ("cus_1", "fallback")),
        (BARE, None, "customer", ("cus_1", "fallback")),
        (BARE, None, "none", (None, None)),
        (Identity(), None, "stripe_customer", (None, None)),
    ],
)
def test_resolve_takes_the_providers_slot_then_the_link_then_the_fallback(found, link, fallback, expected):
    got = identity(found, link, account_fallback=fallback)
    assert (got["account_id"], got["account_source"]) == expected
    assert got["customer_id"] == found.customer_id


@pytest.mark.parametrize(
    ("found", "fallback", "expected"),
    [(FULL, "synthetic", "user-1"), (BARE, "synthetic", "customer-cus_1"), (BARE, "email", "a@example.com"),
     (BARE, "skip", None), (Identity(email="a@example.com"), "synthetic", None)],
)
def test_resolve_visitor_fallbacks(found, fallback, expected):
    assert identity(found, visitor_fallback=fallback)["visitor_id"] == expected


@pytest.mark.parametrize(("enrichment", "expected"), [
    ({"link": "acct-1"}, "acct-1"), ({"link": {"account_id": " acct-2 "}}, "acct-2"), ({"link": ""}, None), ({}, None)])
def test_link_of_reads_the_link_tables_answer(enrichment, expected):
    assert link_of(enrichment) == expected


def stripe_invoice(metadata):
    from bridge.providers import Event

    body = {"id": "evt_1", "object": "event", "type": "invoice.paid", "created": 1_700_000_000,
            "api_version": "2024-06-20", "data": {"object": {
                "id": "in_1", "object": "invoice", "customer": "cus_9", "currency": "usd", "amount_paid": 100,
                "amount_due": 100, "subscription_details": {"metadata": metadata}}}}
    return Event(provider="stripe", id="evt_1", type="invoice.paid", created=1_700_000_000.0, livemode=False,
                 api_version="2024-06-20", connect_account=None, customer_id="cus_9", payload=body)


@pytest.mark.parametrize(
    ("metadata", "enrichment", "fallback", "expected"),
    [
        ({"pendo_account_id": "acct-sub"}, {"link": "acct-link"}, "none", "acct-sub"),
        ({}, {"link": "acct-link"}, "none", "acct-link"),
        ({}, {}, "stripe_customer", "cus_9"),
        ({}, {}, "none", None),
    ],
)
def test_account_of_an_event_is_the_key_of_its_roll_up(metadata, enrichment, fallback, expected):
    from bridge.mapping.identity import account_of

    assert account_of(stripe_invoice(metadata), enrichment, fallback) == expected
