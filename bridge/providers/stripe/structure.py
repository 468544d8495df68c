"""The structural check of an event from a Stripe API version newer than this bridge knows.

Such an event is mapped with the newest adapter only when the fields the mappings read are where they were, with
their JSON types; a release that renamed, moved or retyped one of them makes the event wait for an upgrade instead
of being mapped wrong. The paths are, per object type, those the shipped mapping (`mappings/stripe.yaml`), the
identity chain and the billing semantics (`billing`, `bridge.billing.lifecycle`) and `versions.normalise` read.

A path joins keys with dots; `[]` stands for every element of a list. A required path must be present with one of
its types; an optional one may be absent (or lie under an absent or null parent), but when present must have one of
them. A string whose values the billing semantics branch on (a status, an interval) must be a value they know.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from bridge.providers.stripe.billing import INVOICE_STATUS_PROGRESSION, MONTHS_PER_INTERVAL, STATUS_PROGRESSION

STRING, INTEGER, NUMBER, BOOLEAN = "string", "integer", "number", "boolean"
OBJECT, ARRAY, NULL = "object", "array", "null"
MISSING = object()


@dataclass(frozen=True)
class Expected:
    """One path of a payload: its JSON types, whether it must be there, and the string values known for it."""

    path: str
    types: frozenset[str]
    required: bool
    values: frozenset[str] = frozenset()


def required(path: str, *types: str, values: Iterable[str] = ()) -> Expected:
    return Expected(path, frozenset(types), True, frozenset(values))


def optional(path: str, *types: str, values: Iterable[str] = ()) -> Expected:
    return Expected(path, frozenset(types), False, frozenset(values))


def _coupon(at: str) -> list[Expected]:
    return [optional(at, OBJECT, STRING), optional(f"{at}.id", STRING),
            optional(f"{at}.duration", STRING, values=("forever", "once", "repeating")),
            optional(f"{at}.percent_off", NUMBER, NULL), optional(f"{at}.amount_off", INTEGER, NULL),
            optional(f"{at}.currency", STRING, NULL)]


def _discounts(at: str) -> list[Expected]:
    """A `discounts` list: discount ids, or discounts with their coupon under `source` (clover+) or at the top."""
    return [optional(f"{at}discounts", ARRAY), optional(f"{at}discounts[]", STRING, OBJECT),
            optional(f"{at}discounts[].source", OBJECT), *_coupon(f"{at}discounts[].source.coupon"),
            *_coupon(f"{at}discounts[].coupon")]


def _tax_rates(at: str) -> list[Expected]:
    return [optional(at, ARRAY, NULL), optional(f"{at}[].inclusive", BOOLEAN),
            optional(f"{at}[].percentage", NUMBER, NULL)]


def _price(at: str) -> list[Expected]:
    tier = f"{at}.tiers[]"
    return [
        required(at, OBJECT), required(f"{at}.id", STRING), required(f"{at}.currency", STRING),
        required(f"{at}.recurring", OBJECT),
        required(f"{at}.recurring.interval", STRING, values=MONTHS_PER_INTERVAL),
        required(f"{at}.recurring.interval_count", INTEGER),
        required(f"{at}.recurring.usage_type", STRING, values=("licensed", "metered")),
        required(f"{at}.billing_scheme", STRING, values=("per_unit", "tiered")),
        optional(f"{at}.unit_amount", INTEGER, NULL), optional(f"{at}.unit_amount_decimal", STRING, NULL),
        optional(f"{at}.tiers_mode", STRING, NULL, values=("graduated", "volume")),
        optional(f"{at}.tiers", ARRAY, NULL), optional(f"{tier}.up_to", INTEGER, NULL),
        optional(f"{tier}.unit_amount", INTEGER, NULL), optional(f"{tier}.unit_amount_decimal", STRING, NULL),
        optional(f"{tier}.flat_amount", INTEGER, NULL), optional(f"{tier}.flat_amount_decimal", STRING, NULL),
        optional(f"{at}.transform_quantity", OBJECT, NULL),
        optional(f"{at}.transform_quantity.divide_by", INTEGER),
        optional(f"{at}.transform_quantity.round", STRING, values=("up", "down")),
        optional(f"{at}.tax_behavior", STRING, NULL), optional(f"{at}.lookup_key", STRING, NULL),
        optional(f"{at}.nickname", STRING, NULL), optional(f"{at}.metadata", OBJECT),
        optional(f"{at}.product", STRING, OBJECT), optional(f"{at}.product.name", STRING, NULL),
    ]


def _subscription() -> list[Expected]:
    item = "items.data[]"
    return [
        required("id", STRING), required("status", STRING, values=STATUS_PROGRESSION),
        required("customer", STRING, OBJECT), optional("customer.id", STRING), required("currency", STRING),
        required("metadata", OBJECT),
        required("items", OBJECT), required("items.data", ARRAY), required(item, OBJECT),
        required(f"{item}.current_period_start", INTEGER), required(f"{item}.current_period_end", INTEGER),
        optional(f"{item}.quantity", INTEGER, NULL), *_price(f"{item}.price"), *_tax_rates(f"{item}.tax_rates"),
        *_discounts(f"{item}."), *_discounts(""), optional("discount", OBJECT, NULL), *_coupon("discount.coupon"),
        *(optional(name, INTEGER, NULL) for name in ("cancel_at", "canceled_at", "ended_at", "trial_end",
                                                     "current_period_start", "current_period_end")),
        optional("cancel_at_period_end", BOOLEAN),
        optional("pause_collection", OBJECT, NULL), optional("pause_collection.resumes_at", INTEGER, NULL),
        optional("cancellation_details", OBJECT, NULL), optional("cancellation_details.feedback", STRING, NULL),
        *_tax_rates("default_tax_rates"), optional("automatic_tax", OBJECT),
        optional("automatic_tax.enabled", BOOLEAN),
    ]


def _invoice() -> list[Expected]:
    details = "parent.subscription_details"
    return [
        required("id", STRING), required("currency", STRING), required("customer", STRING, OBJECT),
        required("amount_paid", INTEGER), required("amount_due", INTEGER),
        optional("status_transitions", OBJECT), optional("status_transitions.paid_at", INTEGER, NULL),
        optional("billing_reason", STRING, NULL), optional("attempt_count", INTEGER),
        optional("status", STRING, NULL, values=INVOICE_STATUS_PROGRESSION), optional("metadata", OBJECT, NULL),
        optional("parent", OBJECT, NULL), optional(details, OBJECT, NULL),
        optional(f"{details}.subscription", STRING, OBJECT), optional(f"{details}.metadata", OBJECT, NULL),
        optional("subscription", STRING, OBJECT, NULL), optional("subscription_details", OBJECT, NULL),
        optional("subscription_details.metadata", OBJECT, NULL),
        optional("discounts", ARRAY), optional("discounts[]", STRING, OBJECT),
        optional("customer_email", STRING, NULL),
    ]


def _charge() -> list[Expected]:
    return [required("id", STRING), required("currency", STRING), required("amount_refunded", INTEGER),
            required("refunded", BOOLEAN), optional("customer", STRING, OBJECT, NULL),
            optional("refunds", OBJECT, NULL), optional("refunds.data", ARRAY),
            optional("refunds.data[].amount", INTEGER), optional("refunds.data[].created", INTEGER)]


def _dispute() -> list[Expected]:
    return [required("id", STRING), required("charge", STRING, OBJECT), required("amount", INTEGER),
            required("currency", STRING), optional("reason", STRING, NULL)]


def _checkout_session() -> list[Expected]:
    return [required("id", STRING), required("payment_status", STRING), required("mode", STRING),
            required("currency", STRING, NULL), required("amount_total", INTEGER, NULL),
            optional("client_reference_id", STRING, NULL), optional("customer", STRING, OBJECT, NULL),
            optional("metadata", OBJECT, NULL)]


def _customer() -> list[Expected]:
    return [required("id", STRING), required("metadata", OBJECT), optional("email", STRING, NULL)]


def _as_optional(expected: list[Expected]) -> list[Expected]:
    """`previous_attributes` hold only what changed, each in the object's own shape."""
    return [Expected(e.path, e.types, False, e.values) for e in expected]


ENVELOPE = [
    required("object", STRING, values=("event",)), required("id", STRING), required("type", STRING),
    required("created", INTEGER), optional("livemode", BOOLEAN), optional("account", STRING, NULL),
    required("data", OBJECT), required("data.object", OBJECT), required("data.object.object", STRING),
    optional("data.previous_attributes", OBJECT),
]
OBJECTS = {  # by `data.object.object`; an object type no mapping reads is not checked
    "subscription": _subscription(), "invoice": _invoice(), "charge": _charge(), "dispute": _dispute(),
    "checkout.session": _checkout_session(), "customer": _customer(),
}
PREVIOUS = {"subscription": _as_optional(OBJECTS["subscription"]),
            "charge": [optional("amount_refunded", INTEGER)]}


def _parts(path: str) -> list[str]:
    return [part for segment in path.split(".")
            for part in ([segment[:-2], "[]"] if segment.endswith("[]") else [segment])]


def _found(node: Any, parts: list[str]) -> Iterator[Any]:
    """Every value at the path, `MISSING` where it is absent (an empty list holds nothing to check)."""
    if not parts:
        yield node
        return
    head, rest = parts[0], parts[1:]
    if head == "[]":
        if isinstance(node, list):
            for element in node:
                yield from _found(element, rest)
        else:
            yield MISSING
    elif isinstance(node, Mapping) and head in node:
        yield from _found(node[head], rest)
    else:
        yield MISSING


def json_type(value: Any) -> str:
    if value is None:
        return NULL
    for kind, python in ((BOOLEAN, bool), (INTEGER, int), (NUMBER, float), (STRING, str), (ARRAY, list),
                         (OBJECT, Mapping)):
        if isinstance(value, python):
            return kind
    return type(value).__name__


def _problem(prefix: str, expected: Expected, value: Any) -> str | None:
    where = prefix + expected.path
    if value is MISSING:
        return f"{where}: missing" if expected.required else None
    kind = json_type(value)
    if kind not in expected.types and not (kind == INTEGER and NUMBER in expected.types):
        return f"{where}: {kind} where {' or '.join(sorted(expected.types))} was expected"
    if expected.values and isinstance(value, str) and value not in expected.values:
        return f"{where}: {value!r} is not a value this bridge knows"
    return None


def _check(node: Any, expected: list[Expected], prefix: str) -> list[str]:
    found = (_problem(prefix, e, value) for e in expected for value in _found(node, _parts(e.path)))
    return list(dict.fromkeys(problem for problem in found if problem))


def problems(payload: Mapping[str, Any]) -> list[str]:
    """What keeps this event's payload from being mapped as the newest known API version (empty: nothing)."""
    found = _check(payload, ENVELOPE, "")
    data = payload.get("data")
    data = data if isinstance(data, Mapping) else {}
    obj = data.get("object")
    kind = obj.get("object") if isinstance(obj, Mapping) else None
    found += _check(obj, OBJECTS.get(str(kind), []), "data.object.")
    found += _check(data.get("previous_attributes"), PREVIOUS.get(str(kind), []), "data.previous_attributes.")
    return found
