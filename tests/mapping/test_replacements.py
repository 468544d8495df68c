"""A provider's own functions keep working in overlays, and `bridge check` names the neutral replacement."""

from __future__ import annotations

from pathlib import Path

from bridge.mapping import EvalOptions, evaluate
from bridge.mapping.functions import REPLACEMENTS
from bridge.mapping.loader import KNOWN_NAMES, check_mappings
from bridge.mapping.operations import MetadataUpdate
from tests.conftest import ROOT
from tests.mapping.test_overlay import folder
from tests.mapping.test_shipped_stripe import payload, stripe_event

SHIPPED = ROOT / "mappings"
OLD_OVERLAY = """
    rules:
      - name: subscription-fields
        provider: stripe
        events: [customer.subscription.created, customer.subscription.updated, customer.subscription.deleted]
        account:
          billing_plan: "stripe_plan(account.primary)"
          mrr: "stripe_mrr(object)"
          seats: "stripe_seats(account.primary)"
    """


def test_check_names_the_neutral_replacement_of_each_provider_function(tmp_path: Path) -> None:
    mappings, problems = check_mappings(SHIPPED, folder(tmp_path, "ours", **{"old.yaml": OLD_OVERLAY}))
    assert problems == [] and mappings is not None
    notes = [str(note) for note in mappings.notes]
    assert len(notes) == 3
    assert any(": rule subscription-fields: account.mrr: stripe_mrr() still works, for one provider only; for every "
               "provider: facts.subscription.mrr" in note for note in notes)
    assert any("stripe_seats() still works" in note and "facts.subscription.seats" in note for note in notes)


def test_shipped_mappings_use_no_provider_function() -> None:
    mappings, problems = check_mappings(SHIPPED)
    assert problems == [] and mappings is not None and mappings.notes == ()


def test_an_old_overlay_still_maps_as_before(tmp_path: Path) -> None:
    mappings, _ = check_mappings(SHIPPED, folder(tmp_path, "ours", **{"old.yaml": OLD_OVERLAY}))
    assert mappings is not None
    outcome = evaluate(mappings, stripe_event(payload("subscription_created_2024-06-20.json")),
                       {"customer": {"id": "cus_1", "metadata": {}}}, EvalOptions())
    [update] = [op for op in outcome.operations if isinstance(op, MetadataUpdate)]
    assert update.values == {"billing_plan": "pro_monthly", "mrr": 147.0, "seats": 3}


def test_every_replacement_reads_only_names_expressions_know() -> None:
    assert REPLACEMENTS
    for text in REPLACEMENTS.values():
        assert text.split(".")[0].split(" ")[0] in KNOWN_NAMES
