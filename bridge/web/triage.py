"""Which events are stored only, decided at ingest the same way for webhooks, syncs and catch-ups."""

from __future__ import annotations

from bridge.providers import Event

RECEIVED = "received"  # the store's statuses (bridge.store.store), repeated here to keep this module pure
IGNORED = "ignored"


def triage(event: Event, stripe_mode: str) -> tuple[str, str | None]:
    """The status an incoming event is stored with, and why when it is not mapped."""
    if event.thin:
        return IGNORED, "thin event notification: stored, not mapped"
    if event.livemode is not None and stripe_mode != "both" and event.livemode != (stripe_mode == "live"):
        return IGNORED, f"{'live' if event.livemode else 'test'} mode event; STRIPE_MODE={stripe_mode}"
    return RECEIVED, None
