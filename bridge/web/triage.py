"""Which events are stored only, decided at ingest the same way for webhooks, syncs and catch-ups."""

from __future__ import annotations

from typing import Any

from bridge.providers import Event, registry

RECEIVED = "received"  # the store's statuses (bridge.store.store), repeated here to keep this module pure
IGNORED = "ignored"


def triage(event: Event, config: Any) -> tuple[str, str | None]:
    """The status an incoming event is stored with, and why when it is not mapped (`config`: its provider's)."""
    if event.thin:
        return IGNORED, "thin event notification: stored, not mapped"
    reason = registry.ignored(event, config)
    if reason is not None:
        return IGNORED, reason
    return RECEIVED, None
