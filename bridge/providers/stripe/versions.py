"""Stripe API-version adapters: one canonical payload shape in front of the mappings, whatever the endpoint's version.

Supported: from `OLDEST_SUPPORTED` (2020-08-27, when subscriptions lost their top-level `plan`, `quantity` and
`tax_percent`) through the acacia (2024-09-30), basil (2025-03-31), clover (2025-09-30), dahlia (2026-03-25) and
endive (2026-09-30) releases. Acacia changed nothing the mappings read, so its payloads are the 2024-06-20 shape
with more fields (top-level periods, `discount` beside `discounts`); dahlia and endive changed nothing either, so
theirs are the clover shape with more fields (docs/billing.md lists the changelog entries checked). The
canonical shape is a superset of the shapes, so rules written against either one keep working:

- subscription: `current_period_start/end` on the subscription *and* on every item (basil moved them to the
  items; mixed-interval subscriptions keep their own per-item periods); `discounts` a list holding every
  discount once (the pre-basil `discount` included), each expanded discount with `coupon` at the top (clover
  moved it to `source.coupon`).
- invoice: `subscription` and `subscription_details` at the top (basil moved them under `parent`).

`normalise` is pure and returns a new payload; the stored raw payload is never changed.

`admit` decides what an event's version allows. A supported version is mapped. A version of a release after every
one this bridge knows (a new name, dated after `NEWEST_KNOWN`) is mapped with the newest adapter when its payload
passes the structural check (`structure`), with a warning, and held for an upgrade when it does not: new releases
usually only add fields, and a release that moved one the mappings read must not be mapped wrong. Any other
version (older than supported, malformed, unknown) is stored and not mapped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bridge.providers.stripe import structure

OLDEST_SUPPORTED = "2020-08-27"
ACACIA = "2024-09-30"
BASIL = "2025-03-31"
CLOVER = "2025-09-30"
DAHLIA = "2026-03-25"
ENDIVE = "2026-09-30"
# Named releases and the first date of each; a release's later monthly versions only add fields.
RELEASES = {"acacia": ACACIA, "basil": BASIL, "clover": CLOVER, "dahlia": DAHLIA, "endive": ENDIVE}
NEWEST_RELEASE = "endive"
NEWEST_KNOWN = "2026-11-18.endive"  # the newest version released on 2026-11-30 (docs.stripe.com/changelog)
VERSION = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:\.([a-z]+))?$")
MAX_PROBLEMS = 3  # a warning names the first few; one is enough to hold an event

# What `admit` allows.
MAP = "map"  # evaluate the mappings
HOLD = "hold"  # a newer release whose payload fails the structural check: wait for an upgrade
STORE = "store"  # a version this bridge does not support: stored, not mapped

# Where a version stands (`standing`).
SUPPORTED, NEWER, UNSUPPORTED = "supported", "newer", "unsupported"


@dataclass(frozen=True)
class Admission:
    """What an event's API version allows, and the warning that goes with it."""

    action: str  # MAP, HOLD or STORE
    warning: str | None = None


def support(api_version: str | None) -> str | None:
    """None when events of this version map correctly; otherwise why they are held back."""
    if api_version is None:
        return None  # not every source states it (fixtures, replays): the shape is detected instead
    found = VERSION.match(api_version.strip())
    if not found:
        return f"unknown Stripe API version {api_version!r}"
    date, release = found.groups()
    if date < OLDEST_SUPPORTED:
        return f"Stripe API version {api_version} is older than the oldest supported ({OLDEST_SUPPORTED})"
    if release is None and date < BASIL:
        return None
    if release in RELEASES and date >= RELEASES[release]:
        return None
    return (f"Stripe API version {api_version} is newer than or unknown to this bridge (supported: "
            f"{OLDEST_SUPPORTED} through endive)")


def newer(api_version: str | None) -> bool:
    """Whether the version belongs to a release after every one this bridge knows."""
    found = VERSION.match(api_version.strip()) if api_version else None
    if not found:
        return False
    date, release = found.groups()
    return release is not None and release not in RELEASES and date > NEWEST_KNOWN[:10]


def standing(api_version: str | None) -> str:
    """SUPPORTED, NEWER (mapped when its payload passes the structural check) or UNSUPPORTED."""
    if support(api_version) is None:
        return SUPPORTED
    return NEWER if newer(api_version) else UNSUPPORTED


def admit(api_version: str | None, payload: Mapping[str, Any]) -> Admission:
    """Whether an event of this version is mapped, held for an upgrade or only stored, and the warning."""
    unsupported = support(api_version)
    if unsupported is None:
        return Admission(MAP)
    if not newer(api_version):
        return Admission(STORE, f"{unsupported}: the event is stored, not mapped")
    head = (f"Stripe API version {api_version} is newer than this bridge knows (newest known: {NEWEST_KNOWN}); "
            "upgrade bridge")
    problems = structure.problems(payload)
    if not problems:
        return Admission(MAP, f"{head}: mapped as {NEWEST_RELEASE}, since the fields the mappings read are there")
    shown = "; ".join(problems[:MAX_PROBLEMS]) + ("; …" if len(problems) > MAX_PROBLEMS else "")
    return Admission(HOLD, f"{head}: held, since the fields the mappings read are not as in {NEWEST_RELEASE} "
                           f"({shown}); after the upgrade, `bridge replay --status held` maps it")


def _mapping(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


def _discount(discount: Any) -> Any:
    """An expanded discount with its coupon at the top (clover: `source.coupon`); ids stay ids."""
    found = _mapping(discount)
    if found is None:
        return discount
    source_coupon = (_mapping(found.get("source")) or {}).get("coupon")
    if found.get("coupon") is None and source_coupon is not None:
        found["coupon"] = source_coupon
    return found


def _discounts(holder: dict[str, Any]) -> None:
    """Every discount once in `discounts`, the pre-basil single `discount` included."""
    found = holder.get("discounts")
    listed: list[Any] = found if isinstance(found, list) else []
    merged, seen = [], set()
    for discount in [holder.get("discount"), *listed]:
        if discount is None:
            continue
        key = discount if isinstance(discount, str) else str(discount.get("id") or id(discount))
        if key not in seen:
            seen.add(key)
            merged.append(_discount(discount))
    if merged or "discounts" in holder or "discount" in holder:
        holder["discounts"] = merged


def _items(subscription: dict[str, Any]) -> list[dict[str, Any]]:
    data = (_mapping(subscription.get("items")) or {}).get("data")
    return [item for item in data if isinstance(item, dict)] if isinstance(data, list) else []


def _periods(subscription: dict[str, Any]) -> None:
    items = _items(subscription)
    for key, pick in (("current_period_start", min), ("current_period_end", max)):
        top = subscription.get(key)
        for item in items:
            if item.get(key) is None and top is not None:
                item[key] = top
        values = [item[key] for item in items if isinstance(item.get(key), int | float)]
        if top is None and values:
            subscription[key] = pick(values)


def _subscription(subscription: dict[str, Any]) -> None:
    _periods(subscription)
    _discounts(subscription)
    for item in _items(subscription):
        if "discounts" in item:
            _discounts(item)


def _invoice(invoice: dict[str, Any]) -> None:
    details = (_mapping(invoice.get("parent")) or {}).get("subscription_details")
    if isinstance(details, dict):
        if invoice.get("subscription") is None and details.get("subscription") is not None:
            invoice["subscription"] = details["subscription"]
        if not invoice.get("subscription_details") and details.get("metadata") is not None:
            invoice["subscription_details"] = {"metadata": details["metadata"]}
    _discounts(invoice)


def _normalise_object(obj: Any) -> None:
    found = _mapping(obj)
    if found is None:
        return
    if found.get("object") == "subscription":
        _subscription(found)
    elif found.get("object") == "invoice":
        _invoice(found)


def _copy(value: Any) -> Any:
    """A deep copy of a JSON document (dicts, lists, scalars): several times faster than `copy.deepcopy`."""
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def normalise(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The event payload in the canonical shape (a deep copy)."""
    result = _copy(dict(payload))
    data = _mapping(result.get("data")) or {}
    _normalise_object(data.get("object"))
    previous = _mapping(data.get("previous_attributes"))
    if previous is not None and "discount" in previous:
        _discounts(previous)
    return result
