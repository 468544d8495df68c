"""What mapping an event produces: the Pendo operations, pure data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class MetadataUpdate:
    """Set custom metadata fields on one Pendo account or visitor.

    `source_time` (ms) and `rank` order updates of the same field: a lower (source_time, rank) never
    overwrites a higher one. `create` allows `?create=true` for this id.
    """

    kind: str  # "account" | "visitor"
    id: str
    values: dict[str, Any]
    source_time: int
    rank: int = 0
    create: bool = False
    rule: str = ""


@dataclass(frozen=True)
class TrackEvent:
    """One Pendo track event; never coalesced."""

    event: str
    visitor_id: str
    account_id: str | None
    timestamp: int  # epoch ms: the source event's time
    properties: dict[str, Any] = field(default_factory=dict)
    rule: str = ""


Operation = MetadataUpdate | TrackEvent


MAP, HOLD, STORE = "map", "hold", "store"  # what an event's API version allows (a package's `admit`)


@dataclass
class Outcome:
    """The result of evaluating all rules against one event."""

    operations: list[Operation] = field(default_factory=list)
    matched: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # rule name → why it did not match
    unresolved: list[str] = field(default_factory=list)  # rules whose account or visitor id did not resolve
    warnings: list[str] = field(default_factory=list)
    admission: str = "map"  # what the event's API version allowed: "map", "hold" (wait for an upgrade) or "store"
    newer_version: str | None = None  # an API version newer than bridge knows, mapped or held: people are told
