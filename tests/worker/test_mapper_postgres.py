"""The mapper's batched writes: a chunk in one transaction, two workers on shared accounts, links checked again."""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Connection, select

from bridge.mapping import load_mappings
from bridge.providers import Event
from bridge.providers.stripe.enrichment import Enricher, RateBudget
from bridge.providers.stripe.webhook import StripeProvider
from bridge.store import links
from bridge.store import store as st
from bridge.store.db import make_engine, migrate
from bridge.store.schema import field_values
from bridge.store.store import Store
from bridge.worker.mapper import Mapper
from tests.conftest import ROOT, SECRET, make_settings
from tests.e2e.harness import stripe_event
from tests.e2e.payloads import customer, subscription

MAPPINGS = load_mappings(ROOT / "mappings")
CREATED = 1_767_225_600


def build(url: str, worker_id: str) -> Mapper:
    settings = make_settings(url, pendo_track_secret="track", claim_seconds=60.0)
    store = Store(make_engine(settings))
    enricher = Enricher(store, None, RateBudget(1000.0, sleep=lambda _: None), time.time)
    return Mapper(settings, store, MAPPINGS, enricher, worker_id, time.time)


def renewal(account: int, seats: int, created: int) -> Event:
    """`customer.subscription.updated` of account `account`'s own customer and subscription, to `seats` seats."""
    obj = subscription(account=f"acct-{account}", quantity=seats, sub_id=f"sub_{account}", customer=f"cus_{account}")
    body = stripe_event("customer.subscription.updated", obj, created=created,
                        event_id=f"evt_{account}_{seats}")
    return StripeProvider((SECRET,)).parse(json.dumps(body).encode())


def stored(url: str, accounts: int, events: list[Event]) -> Store:
    """A migrated database holding `events`, each account's customer known to the enrichment cache."""
    settings = make_settings(url)
    migrate(settings)
    store = Store(make_engine(settings))
    for account in range(accounts):
        store.cache_object("stripe", f"cus_{account}", customer(f"cus_{account}", f"acct-{account}"), time.time())
    store.ingest_many([st.Incoming(event, time.time()) for event in events])
    return store


def seats(store: Store) -> dict[str, int]:
    with store.engine.connect() as connection:
        rows = connection.execute(select(field_values.c.entity_id, field_values.c.value)
                                  .where(field_values.c.kind == "account", field_values.c.field == "seats"))
        return {entity: int(json.loads(value)) for entity, value in rows}


@pytest.mark.postgres
def test_mapper_writes_a_chunk_of_independent_events_in_one_transaction_on_postgresql(
        postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = stored(postgres_url, 10, [renewal(account, 2, CREATED + account) for account in range(10)])
    mapper = build(postgres_url, "w1")
    claimed = mapper.store.claim_events("w1", time.time(), 60.0, 100)
    opened = 0
    begin = mapper.store.transaction

    @contextmanager
    def counted() -> Iterator[Connection]:
        nonlocal opened
        opened += 1
        with begin() as connection:
            yield connection

    monkeypatch.setattr(mapper.store, "transaction", counted)
    mapper.map_events(claimed)
    assert opened == 1
    assert store.count_by_status() == {st.MAPPED: 10}
    assert seats(store) == {f"acct-{account}": 2 for account in range(10)}


@pytest.mark.postgres
def test_two_mappers_on_shared_accounts_map_every_event_once_and_end_in_the_newest_values(
        postgres_url: str, caplog: pytest.LogCaptureFixture) -> None:
    accounts, rounds = 40, 6
    order = list(range(accounts))
    events: list[Event] = []
    for seat in range(1, rounds + 1):  # each round updates every account once, in a shuffled order
        random.Random(seat).shuffle(order)
        events += [renewal(account, seat, CREATED + len(events)) for account in order]
    store = stored(postgres_url, accounts, events)
    mappers = [build(postgres_url, "w1"), build(postgres_url, "w2")]
    start, failures = threading.Barrier(2), []

    def work(mapper: Mapper) -> None:
        try:
            start.wait()
            while mapper.run_batch(limit=30):
                pass
        except Exception as exc:  # the assertion below shows it
            failures.append(exc)

    with caplog.at_level(logging.INFO, logger="bridge.mapper"):
        threads = [threading.Thread(target=work, args=(mapper,)) for mapper in mappers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert failures == []
    mapped: Counter[Any] = Counter(getattr(record, "event_id", None) for record in caplog.records
                                   if record.getMessage() == "event mapped")
    assert mapped == Counter({event.id: 1 for event in events})
    assert store.count_by_status() == {st.MAPPED: len(events)}
    assert seats(store) == {f"acct-{account}": rounds for account in range(accounts)}


def test_a_link_changed_between_planning_and_writing_is_read_again(database_url: str,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The chunk's links are read at once for its plans and checked at once before they are written: a link saved
    meanwhile sends the chunk the locked way, which maps each event with the link as it is now."""
    def unlinked(n: int) -> Event:  # neither the subscription nor its customer names an account: the link does
        obj = subscription(sub_id=f"sub_{n}", customer=f"cus_{n}", quantity=3, metadata={})
        body = stripe_event("customer.subscription.updated", obj, created=CREATED + n, event_id=f"evt_link_{n}")
        return StripeProvider((SECRET,)).parse(json.dumps(body).encode())

    store = stored(database_url, 0, [unlinked(n) for n in range(3)])
    for n in range(3):
        store.cache_object("stripe", f"cus_{n}", {**customer(f"cus_{n}"), "metadata": {}}, time.time())
    with store.engine.begin() as connection:
        for n in range(3):
            links.save(connection, "stripe", f"cus_{n}", f"old-{n}", "import", 1.0)
    mapper = build(database_url, "w1")
    plan = mapper._plan

    def plan_then_relink(chunk: Any) -> Any:
        planned = plan(chunk)
        with store.engine.begin() as connection:
            links.save(connection, "stripe", "cus_1", "new-1", "import", 2.0)
        return planned

    monkeypatch.setattr(mapper, "_plan", plan_then_relink)
    mapper.map_events(mapper.store.claim_events("w1", time.time(), 60.0, 100))
    assert store.count_by_status() == {st.MAPPED: 3}
    assert seats(store) == {"old-0": 3, "new-1": 3, "old-2": 3}
