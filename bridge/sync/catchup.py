"""`bridge catchup stripe --since …`: Stripe's own event log, fed through the webhook ingest path.

Stripe keeps events for 30 days and lists them newest first. The pages are spooled to a temporary
directory while they are fetched, then stored oldest first with the webhook's triage; deduplication on the
event id makes any number of runs safe, and memory stays one page whatever the window.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from bridge.errors import ConfigError, PayloadError
from bridge.mapping import MappingSet
from bridge.ops.progress import Progress
from bridge.providers.stripe.api import StripeApi
from bridge.providers.stripe.facts import event_types as stripe_event_types
from bridge.providers.stripe.webhook import StripeProvider
from bridge.settings import Settings
from bridge.store.store import Incoming, Store
from bridge.web.triage import RECEIVED, triage

log = logging.getLogger("bridge.catchup")

RETENTION_SECONDS = 30 * 86400  # how long Stripe keeps events
CUSTOMER_TYPES = ("customer.created", "customer.updated", "customer.deleted")  # they refresh the cache
MAX_TYPES = 20  # Stripe's limit on `types`


@dataclass
class CatchupReport:
    since: float
    note: str | None = None
    fetched: int = 0
    new: int = 0
    duplicates: int = 0
    ignored: int = 0
    skipped: int = 0
    stripe_requests: int = 0

    def summary(self) -> dict[str, Any]:
        return {"since": iso(self.since), "fetched": self.fetched, "new": self.new,
                "duplicates": self.duplicates, "ignored": self.ignored, "not_events": self.skipped,
                "stripe_requests": self.stripe_requests}


def iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_time(value: str) -> float:
    """An ISO 8601 time (UTC when it has no offset) as unix seconds."""
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"--since {value!r} is neither an ISO 8601 time (2025-01-31T12:00:00Z) "
                          "nor a Stripe event id (evt_…)") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def event_types(mappings: MappingSet | None) -> list[str] | None:
    """The event types worth fetching: the mappings' (when they name exact types) and the customer ones."""
    if mappings is None:
        return None
    names = {glob for rule in mappings.rules if rule.provider == "stripe" for glob in rule.events}
    names |= stripe_event_types(glob for rule in mappings.rules if rule.provider == "*" for glob in rule.events)
    if any(any(c in name for c in "*?[") for name in names):
        return None
    wanted = sorted(names | set(CUSTOMER_TYPES))
    return wanted if len(wanted) <= MAX_TYPES else None


def wanted(event_type: str, types: list[str] | None) -> bool:
    return types is None or any(fnmatchcase(event_type, name) for name in types)


@dataclass
class Catchup:
    """One catch-up from Stripe's Events API into the store."""

    settings: Settings
    store: Store
    api: StripeApi
    mappings: MappingSet | None = None
    clock: Callable[[], float] = time.time
    progress: Progress | None = None

    def start(self, since: str) -> tuple[float, str | None]:
        """Where the window starts, and a plain note when Stripe no longer has all of it."""
        if since.startswith("evt_"):
            found = self.api.call(lambda: self.api.client.v1.events.retrieve(since))
            start = float(found.created)
        else:
            start = parse_time(since)
        oldest = self.clock() - RETENTION_SECONDS
        if start >= oldest:
            return start, None
        return oldest, (f"Stripe keeps events for 30 days: {since} is older, so the catch-up starts at "
                        f"{iso(oldest)}; events before then cannot be fetched (run `bridge sync stripe` "
                        f"to bring every account's current state instead)")

    def run(self, since: str, failed_only: bool = False) -> CatchupReport:
        start, note = self.start(since)
        report = CatchupReport(start, note)
        if note:
            log.warning(note)
        params: dict[str, Any] = {"created": {"gte": int(start)}}
        types = event_types(self.mappings)
        if types:
            params["types"] = types
        if failed_only:
            params["delivery_success"] = False
        with tempfile.TemporaryDirectory(prefix="bridge-catchup-") as spool:
            pages = self._fetch(params, Path(spool), report)
            self._ingest(pages, report, types, f"catchup_{uuid.uuid4().hex[:12]}")
        if self.progress:
            self.progress.finish()
        return report

    def _fetch(self, params: dict[str, Any], spool: Path, report: CatchupReport) -> list[Path]:
        files = []
        for number, page in enumerate(self.api.pages(lambda q: self.api.client.v1.events.list(params=q),  # type: ignore[arg-type]
                                                     params)):
            path = spool / f"{number:08d}.json"
            path.write_text(json.dumps(page.items))
            files.append(path)
            report.fetched += len(page.items)
            report.stripe_requests = self.api.requests
            if self.progress:
                self.progress.update(fetched=report.fetched, stored=0, requests=report.stripe_requests)
        return files

    def _ingest(self, pages: list[Path], report: CatchupReport, types: list[str] | None, request_id: str) -> None:
        """Oldest first: the pages in reverse, each page reversed (Stripe lists newest first)."""
        for path in reversed(pages):
            batch = list(self._incoming(json.loads(path.read_text()), report, types, request_id))
            path.unlink()
            for item, duplicate in zip(batch, self.store.ingest_many(batch) if batch else [], strict=True):
                report.duplicates += duplicate
                report.new += not duplicate
                report.ignored += not duplicate and item.status != RECEIVED
            if self.progress:
                self.progress.update(stored=report.new + report.duplicates)

    def _incoming(self, items: list[dict[str, Any]], report: CatchupReport, types: list[str] | None,
                  request_id: str) -> Iterator[Incoming]:
        parser, now = StripeProvider(()), self.clock()
        for item in reversed(items):
            try:
                event = parser.parse(json.dumps(item, separators=(",", ":")).encode())
            except PayloadError as exc:
                report.skipped += 1
                log.warning("not a Stripe event: skipped", extra={"reason": str(exc), "id": item.get("id")})
                continue
            if not wanted(event.type, types):
                continue
            status, detail = triage(event, self.settings.stripe_mode)
            yield Incoming(event, now, status, detail, None, request_id)
