"""Field types for an import: --type, then Pendo's schema (cached an hour in the database), then the mappings."""

from __future__ import annotations

import pytest

from bridge.imports import fields
from bridge.imports.fields import ImportSetupError, PendoSchema
from bridge.pendo.client import PendoClient
from bridge.store.db import make_engine, migrate
from bridge.store.store import Store
from tests.conftest import Clock, make_settings
from tests.fakes.pendo import FakePendo


@pytest.fixture
def store(sqlite_url: str) -> Store:
    settings = make_settings(sqlite_url)
    migrate(settings)
    return Store(make_engine(settings))


def schema_of(pendo: FakePendo, store: Store, clock: Clock) -> PendoSchema:
    settings = make_settings("sqlite://", pendo_integration_key="key", pendo_api_base=pendo.url)
    return PendoSchema(store, PendoClient(settings).get_schema, clock, sleep=lambda _s: None)


def test_fields_order_of_authority() -> None:
    types = fields.resolve({"seats": "text"}, {"seats": "number", "plan": "text", "odd": ""},
                           {"plan": "number", "mrr": "number"})
    assert types.types == {"seats": "text", "plan": "text", "mrr": "number"}
    assert types.origin == {"seats": "--type", "plan": "Pendo", "mrr": "mappings"}
    assert types.pendo_fields == {"seats", "plan", "odd"}


def test_fields_pendo_schema_is_read_once_an_hour(pendo: FakePendo, store: Store, clock: Clock) -> None:
    pendo.add_field("account", "seats", "number")
    pendo.add_field("account", "renews_at", "time")
    schema = schema_of(pendo, store, clock)
    assert schema.types("account") == ({"seats": "number", "renews_at": "date"}, None)
    clock.advance(3000)
    assert schema.types("account")[0] == {"seats": "number", "renews_at": "date"}
    assert len(pendo.calls("/api/v1/metadata/schema")) == 1
    clock.advance(700)
    pendo.add_field("account", "admin", "boolean")
    assert schema.types("account")[0] == {"seats": "number", "renews_at": "date", "admin": "boolean"}
    assert len(pendo.calls("/api/v1/metadata/schema")) == 2


def test_fields_pendo_failing_retries_then_uses_the_old_copy(pendo: FakePendo, store: Store, clock: Clock) -> None:
    pendo.add_field("account", "seats", "number")
    schema = schema_of(pendo, store, clock)
    schema.types("account")
    clock.advance(7200)
    pendo.fail_next(2, status=503)
    assert schema.types("account") == ({"seats": "number"}, None)  # the third try got through
    clock.advance(7200)
    pendo.fail_next(5, status=503)
    found, problem = schema.types("account")
    assert found == {"seats": "number"} and problem is not None and "copy of" in problem


def test_fields_pendo_unreachable_without_a_copy_says_so(pendo: FakePendo, store: Store, clock: Clock) -> None:
    pendo.set_auth_ok(False)
    found, problem = schema_of(pendo, store, clock).types("visitor")
    assert found is None and problem is not None and "403" in problem
    assert len(pendo.calls("/api/v1/metadata/schema")) == 1  # a refused key is not retried


@pytest.mark.parametrize("pair", ["seats", "seats=int", "=number"])
def test_fields_malformed_type_options_are_refused(pair: str) -> None:
    with pytest.raises(ImportSetupError, match="NAME=TYPE"):
        fields.explicit_types([pair])
