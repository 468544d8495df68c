"""`bridge catchup <provider> --since …`: the provider's own event log, fed through the webhook ingest path.

The provider's package offers its log through the optional `event_log(config)` (docs/providers/README.md): where a
window starts (and a plain note when the provider no longer keeps all of it), the pages of events newest first,
each item parsed as its webhook would be, and the event types worth asking for. The pages are spooled to a
temporary directory while they are fetched, then stored oldest first with the webhook's triage; deduplication on
the event id makes any number of runs safe, and memory stays one page whatever the window.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Protocol

from bridge.errors import ConfigError, PayloadError
from bridge.mapping import MappingSet
from bridge.ops.progress import Progress
from bridge.providers import Event
from bridge.settings import Settings
from bridge.store.store import Incoming, Store
from bridge.web.triage import RECEIVED, triage

log = logging.getLogger("bridge.catchup")


class EventLog(Protocol):
    """A provider's list of past events, as `event_log(config)` of its package returns it."""

    @property
    def requests(self) -> int:
        """Requests made so far, for the report."""

    def start(self, since: str, now: float) -> tuple[float, str | None]:
        """Where the window starts (unix seconds) and a note when the provider no longer has all of it."""

    def pages(self, start: float, types: list[str] | None, failed_only: bool) -> Iterator[list[dict[str, Any]]]:
        """The events since `start`, newest first, page by page (only undelivered ones with `failed_only`)."""

    def parse(self, item: Mapping[str, Any]) -> Event:
        """One listed event as its webhook would be parsed; PayloadError when it is not one."""

    def types(self, mappings: MappingSet | None) -> list[str] | None:
        """The event types worth asking for; None: all of them."""


@dataclass
class CatchupReport:
    since: float
    note: str | None = None
    fetched: int = 0
    new: int = 0
    duplicates: int = 0
    ignored: int = 0
    skipped: int = 0
    requests: int = 0

    def summary(self) -> dict[str, Any]:
        return {"since": iso(self.since), "fetched": self.fetched, "new": self.new,
                "duplicates": self.duplicates, "ignored": self.ignored, "not_events": self.skipped,
                "api_requests": self.requests}


def iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_time(value: str, also: str = "") -> float:
    """An ISO 8601 time (UTC when it has no offset) as unix seconds; `also` names what else `--since` takes."""
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"--since {value!r} is neither an ISO 8601 time (2025-01-31T12:00:00Z)"
                          + (f" nor {also}" if also else "")) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def wanted(event_type: str, types: list[str] | None) -> bool:
    return types is None or any(fnmatchcase(event_type, name) for name in types)


@dataclass
class Catchup:
    """One catch-up from a provider's event log into the store."""

    settings: Settings
    store: Store
    provider: str
    events: EventLog
    mappings: MappingSet | None = None
    clock: Callable[[], float] = time.time
    progress: Progress | None = None

    def run(self, since: str, failed_only: bool = False) -> CatchupReport:
        start, note = self.events.start(since, self.clock())
        report = CatchupReport(start, note)
        if note:
            log.warning(note)
        types = self.events.types(self.mappings)
        with tempfile.TemporaryDirectory(prefix="bridge-catchup-") as spool:
            pages = self._fetch(self.events.pages(start, types, failed_only), Path(spool), report)
            self._ingest(pages, report, types, f"catchup_{uuid.uuid4().hex[:12]}")
        if self.progress:
            self.progress.finish()
        return report

    def _fetch(self, pages: Iterator[list[dict[str, Any]]], spool: Path, report: CatchupReport) -> list[Path]:
        files = []
        for number, items in enumerate(pages):
            path = spool / f"{number:08d}.json"
            path.write_text(json.dumps(items))
            files.append(path)
            report.fetched += len(items)
            report.requests = self.events.requests
            if self.progress:
                self.progress.update(fetched=report.fetched, stored=0, requests=report.requests)
        return files

    def _ingest(self, pages: list[Path], report: CatchupReport, types: list[str] | None, request_id: str) -> None:
        """Oldest first: the pages in reverse, each page reversed (the log lists newest first)."""
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
        config, now = self.settings.providers[self.provider], self.clock()
        for item in reversed(items):
            try:
                event = self.events.parse(item)
            except PayloadError as exc:
                report.skipped += 1
                log.warning("not an event: skipped", extra={"provider": self.provider, "reason": str(exc),
                                                            "id": item.get("id")})
                continue
            if not wanted(event.type, types):
                continue
            if event.provider != self.provider:
                event = replace(event, provider=self.provider)  # a named source's key, as its webhooks have
            status, detail = triage(event, config)
            yield Incoming(event, now, status, detail, None, request_id)
