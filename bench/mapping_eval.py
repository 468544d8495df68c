"""Mapping evaluation throughput: a Stripe mapping through the engine vs the same mapping by hand.

    .venv/bin/python bench/mapping_eval.py [--seconds 3] [--json]

Both sides get the same parsed events (every fixture of tests/fixtures/stripe, several API shapes) with the
same enrichment, on one core, no I/O. The hand-written function produces the same operations as
`bench/mapping_eval_stripe.yaml` (the first shipped Stripe mapping, frozen so the two stay equal; checked
before timing): it is the floor the declarative engine is compared with. The current `mappings/` set is
timed through the engine as well.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bridge.mapping import EvalOptions, MappingSet, evaluate, load_mappings  # noqa: E402
from bridge.mapping.dryrun import parse_event  # noqa: E402
from bridge.mapping.functions import Functions  # noqa: E402
from bridge.mapping.operations import MetadataUpdate, Outcome, TrackEvent  # noqa: E402
from bridge.providers import Event  # noqa: E402
from bridge.providers.stripe import billing as stripe_billing  # noqa: E402
from bridge.providers.stripe import functions as stripe_functions  # noqa: E402
from bridge.providers.stripe import versions as stripe_versions  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "stripe"
CUSTOMER = {"id": "cus_RxT4bV9mQp2LkA", "object": "customer",
            "metadata": {"pendo_account_id": "acme-corp", "pendo_visitor_id": "user-42"}}
ENRICHMENT = {"customer": CUSTOMER}
OPTIONS = EvalOptions()
F = Functions("iso")
S = stripe_functions  # the Stripe functions the first shipped mapping called


def _drop_none(values: Mapping[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not None}


def _subscription(event: Event, obj: Mapping[str, Any], ids: Mapping[str, Any], out: Outcome, time_ms: int) -> None:
    rank = stripe_billing.tie_rank(event.type, obj.get("status"))
    values = _drop_none({
        "billing_plan": S.stripe_plan(obj), "billing_status": obj.get("status"), "mrr": S.stripe_mrr(obj),
        "billing_currency": F.upper(obj.get("currency")), "billing_interval": S.stripe_interval(obj),
        "seats": S.stripe_seats(obj), "trial_end": F.date(obj.get("trial_end")),
        "current_period_end": F.date(S.stripe_period_end(obj)),
        "cancel_at_period_end": obj.get("cancel_at_period_end"), "canceled_at": F.date(obj.get("canceled_at")),
    })
    out.operations.append(MetadataUpdate("account", ids["account_id"], values, time_ms, rank,
                                         rule="subscription-fields"))
    if event.type == "customer.subscription.created" and obj.get("status") != "incomplete":
        properties = _drop_none({"plan": S.stripe_plan(obj), "mrr": S.stripe_mrr(obj),
                                 "currency": F.upper(obj.get("currency")), "interval": S.stripe_interval(obj)})
        out.operations.append(TrackEvent("Subscription Created", ids["visitor_id"], ids["account_id"], time_ms,
                                         properties, rule="subscription-fields"))
    if event.type == "customer.subscription.deleted":
        properties = _drop_none({"plan": S.stripe_plan(obj), "mrr_lost": S.stripe_list_mrr(obj)})
        out.operations.append(TrackEvent("Subscription Canceled", ids["visitor_id"], ids["account_id"], time_ms,
                                         properties, rule="subscription-canceled"))


def _invoice(event: Event, obj: Mapping[str, Any], ids: Mapping[str, Any], out: Outcome, time_ms: int) -> None:
    rank = stripe_billing.tie_rank(event.type, obj.get("status"))
    currency = F.upper(obj.get("currency"))
    if event.type == "invoice.paid" and (obj.get("amount_paid") or 0) > 0:
        amount = F.money(obj.get("amount_paid"), obj.get("currency"))
        paid_at = (obj.get("status_transitions") or {}).get("paid_at") or event.payload.get("created")
        values = _drop_none({"last_payment_at": F.date(paid_at), "last_payment_amount": amount, "delinquent": False})
        out.operations.append(MetadataUpdate("account", ids["account_id"], values, time_ms, rank, rule="invoice-paid"))
        properties = _drop_none({"amount": amount, "currency": currency, "billing_reason": obj.get("billing_reason"),
                                 "invoice_id": obj.get("id")})
        out.operations.append(TrackEvent("Invoice Paid", ids["visitor_id"], ids["account_id"], time_ms, properties,
                                         rule="invoice-paid"))
    elif event.type == "invoice.payment_failed":
        out.operations.append(MetadataUpdate("account", ids["account_id"], {"delinquent": True}, time_ms, rank,
                                             rule="invoice-payment-failed"))
        properties = _drop_none({"amount": F.money(obj.get("amount_due"), obj.get("currency")),
                                 "currency": currency, "attempt_count": obj.get("attempt_count")})
        out.operations.append(TrackEvent("Payment Failed", ids["visitor_id"], ids["account_id"], time_ms, properties,
                                         rule="invoice-payment-failed"))


def by_hand(event: Event, enrichment: Mapping[str, Any]) -> Outcome:
    """The shipped Stripe mapping written as plain Python (identity resolved the same way, the payload in the
    one shape of every API version, as the engine gets it)."""
    out = Outcome()
    obj = stripe_versions.normalise(event.payload)["data"]["object"]
    ids = stripe_billing.resolve_identity(obj, event.type, enrichment, account_fallback="none",
                                          visitor_fallback="skip", synthetic_prefix="stripe-customer-")
    time_ms = int(event.created * 1000)
    if event.type.startswith("customer.subscription."):
        _subscription(event, obj, ids, out, time_ms)
    elif event.type.startswith("invoice."):
        _invoice(event, obj, ids, out, time_ms)
    return out


def _rate(function: Callable[[Event], Outcome], events: list[Event], seconds: float) -> float:
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for event in events:
            function(event)
        done += len(events)
    return done / (time.perf_counter() - start)


def _frozen_mappings() -> MappingSet:
    """The frozen mapping, loaded from a folder of its own (the loader reads folders)."""
    with tempfile.TemporaryDirectory() as folder:
        shutil.copy(ROOT / "bench" / "mapping_eval_stripe.yaml", Path(folder) / "stripe.yaml")
        return load_mappings(Path(folder))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0, help="time per side")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    frozen, current = _frozen_mappings(), load_mappings(ROOT / "mappings")
    events = [parse_event(json.loads(path.read_text())) for path in sorted(FIXTURES.glob("*.json"))]

    def engine(event: Event) -> Outcome:
        return evaluate(frozen, event, ENRICHMENT, OPTIONS)

    def hand(event: Event) -> Outcome:
        return by_hand(event, ENRICHMENT)

    def shipped(event: Event) -> Outcome:
        return evaluate(current, event, ENRICHMENT, OPTIONS)

    for event in events:  # the same operations, or the comparison means nothing
        assert engine(event).operations == hand(event).operations, event.id
    figures = {"events": len(events), "engine_events_per_s": round(_rate(engine, events, args.seconds)),
               "hand_written_events_per_s": round(_rate(hand, events, args.seconds)),
               "current_rules": len(current.rules),
               "current_engine_events_per_s": round(_rate(shipped, events, args.seconds))}
    figures["engine_us_per_event"] = round(1e6 / figures["engine_events_per_s"], 1)
    figures["slowdown"] = round(figures["hand_written_events_per_s"] / figures["engine_events_per_s"], 1)
    if args.json:
        print(json.dumps(figures))
        return 0
    print(f"Stripe mapping, {len(events)} fixture events, one core:")
    print(f"  engine, frozen mapping ({len(frozen.rules)} rules):  {figures['engine_events_per_s']:>9,} events/s "
          f"({figures['engine_us_per_event']} µs/event)")
    print(f"  hand-written Python, same operations: {figures['hand_written_events_per_s']:>9,} events/s "
          f"(the engine is {figures['slowdown']}x slower)")
    print(f"  engine, current mappings/ ({figures['current_rules']} rules): "
          f"{figures['current_engine_events_per_s']:>9,} events/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
