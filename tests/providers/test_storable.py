"""What every provider's events must satisfy to be stored, kept equal to the events table."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bridge.errors import PayloadError
from bridge.providers import LATEST_CREATED, TEXT_LIMITS, Event, storable
from bridge.store.schema import events

EVENT = Event(provider="stripe", id="evt_1", type="invoice.paid", created=1_750_000_000.0, livemode=True,
              api_version="2025-03-31.basil", connect_account=None, customer_id="cus_1", payload={})


def test_storable_limits_are_the_columns_lengths() -> None:
    columns = {"id": "event_id", "type": "type", "api_version": "api_version", "connect_account": "connect_account",
               "customer_id": "customer_id"}
    assert {name: events.c[columns[name]].type.length for name in TEXT_LIMITS} == TEXT_LIMITS


def test_storable_passes_a_plain_event() -> None:
    assert storable(EVENT) is EVENT


@pytest.mark.parametrize(
    "changes",
    [{"id": "x" * 256}, {"id": ""}, {"id": "evt_\ud800"}, {"id": "evt_\x7f"}, {"type": "a\nb"},
     {"customer_id": "c" * 256}, {"connect_account": "acct_\x00"}, {"api_version": "v" * 65},
     {"created": float("nan")}, {"created": float("-inf")}, {"created": -0.5}, {"created": LATEST_CREATED + 1}],
)
def test_storable_refuses(changes: dict[str, object]) -> None:
    with pytest.raises(PayloadError):
        storable(replace(EVENT, **changes))  # type: ignore[arg-type]
