"""The customer → account link table: which Pendo account a provider's customer belongs to.

Keyed by (provider, customer id): ids are the provider's own. Learned from the identity slots of events (an
object's `metadata.pendo_account_id`, say; each provider's docs page names its slots) and imported from CSV
(`bridge link import`). Links outlive the customer: a deleted customer's event and `bridge purge` leave them,
so a deleted customer's late events still find their account.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, bindparam, select

from bridge.errors import BridgeError
from bridge.providers import Event, registry
from bridge.store.schema import customer_links
from bridge.store.store import one_of, per_dialect

COLUMNS = ("customer_id", "account_id")


class LinkFileError(BridgeError):
    """A link CSV file that cannot be imported; the message names the file and line."""


def save(connection: Connection, provider: str, customer_id: str, account_id: str, source: str,
         now: float) -> None:
    """Insert or replace one link."""
    connection.execute(_upsert(connection), {"provider": provider, "customer_id": customer_id,
                                             "account_id": account_id, "source": source, "updated_at": now})


@per_dialect
def _upsert(insert: Callable[[Table], Any]) -> Any:
    statement = insert(customer_links)
    new = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=["provider", "customer_id"],
        set_={"account_id": new.account_id, "source": new.source, "updated_at": new.updated_at})


_LINKED = select(customer_links.c.account_id).where(customer_links.c.provider == bindparam("provider"),
                                                    customer_links.c.customer_id == bindparam("customer_id"))


def linked_account_of(connection: Connection, event: Event) -> str | None:
    """The account linked to the event's customer (`linked_accounts_of`, for one event)."""
    return linked_accounts_of(connection, [event])[0]


def linked_accounts_of(connection: Connection, events: Sequence[Event]) -> list[str | None]:
    """The account linked to each event's customer; for an event of a connected account (a platform's sub-account)
    whose customer has none, the link of the connected account itself: a row of its platform whose customer id is
    the account id (`bridge link import`), for a platform whose connected accounts are the Pendo accounts. One query
    per provider key, whatever the number of events (a worker's chunk: one round trip instead of one an event)."""
    found = _links(connection, {(event.provider, event.customer_id) for event in events if event.customer_id})
    fallbacks = {(registry.platform(event.provider), account) for event in events
                 if (account := registry.connected(event.provider)) is not None}
    found |= _links(connection, fallbacks - set(found))
    linked: list[str | None] = []
    for event in events:
        link = found.get((event.provider, event.customer_id)) if event.customer_id else None
        account = registry.connected(event.provider)
        if link is None and account is not None:
            link = found.get((registry.platform(event.provider), account))
        linked.append(link)
    return linked


def _links(connection: Connection, keys: Iterable[tuple[str, str | None]]) -> dict[tuple[str, str], str]:
    by_provider: dict[str, list[str]] = defaultdict(list)
    for provider, customer_id in keys:
        if customer_id:
            by_provider[provider].append(customer_id)
    found: dict[tuple[str, str], str] = {}
    for provider, customer_ids in by_provider.items():
        rows = connection.execute(select(customer_links.c.customer_id, customer_links.c.account_id).where(
            customer_links.c.provider == provider, one_of(connection, customer_links.c.customer_id, customer_ids)))
        found.update({(provider, customer_id): account_id for customer_id, account_id in rows})
    return found


def linked_account(connection: Connection, provider: str, customer_id: str | None) -> str | None:
    """The account linked to a provider's customer, if any."""
    if not customer_id:
        return None
    return connection.execute(_LINKED, {"provider": provider, "customer_id": customer_id}).scalar_one_or_none()


def stated(event: Event) -> tuple[str, str] | None:
    """The (customer id, account id) link an event states explicitly in its provider's identity slots (never a
    fallback), to be `save`d when the event is mapped."""
    found = registry.find(event.provider)
    slots = found.facts(event, {}).identity if found is not None else None
    if slots is not None and slots.customer_id and slots.account_id:
        return slots.customer_id, slots.account_id
    return None


def read_csv(path: Path) -> list[tuple[str, str]]:
    """The (customer_id, account_id) rows of a CSV file with those two columns in its header."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            if not set(COLUMNS) <= set(reader.fieldnames or ()):
                raise LinkFileError(f"{path}: the header must name the columns {', '.join(COLUMNS)}")
            return list(_rows(path, reader))
    except OSError as exc:
        raise LinkFileError(f"{path}: cannot be read: {exc.strerror}") from exc


def _rows(path: Path, reader: Iterable[dict[str, str]]) -> Iterable[tuple[str, str]]:
    for line, row in enumerate(reader, start=2):
        customer_id, account_id = ((row.get(column) or "").strip() for column in COLUMNS)
        if not customer_id or not account_id:
            raise LinkFileError(f"{path}: line {line}: customer_id and account_id are both required")
        yield customer_id, account_id


def import_csv(engine: Engine, provider: str, path: Path, now: float) -> int:
    """Import every row of a link file (customers of `provider`) in one transaction; the number of links written."""
    rows = read_csv(path)
    with engine.begin() as connection:
        for customer_id, account_id in rows:
            save(connection, provider, customer_id, account_id, "import", now)
    return len(rows)
