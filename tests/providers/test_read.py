"""`read(body, headers=None)`: an event body an admin chose, parsed as its webhook would parse it, without a signature
check (`bridge try`, `bridge test`, the admin console's dry run)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from bridge.errors import ConfigError, PayloadError
from bridge.providers import registry
from bridge.web.app import _received
from tests.providers.deliveries import SENDERS, fixture, has_fixtures

NOW = 1_900_000_000.0
CONTRACTED = [name for name in registry.PACKAGES if has_fixtures(name)]


def test_every_registered_package_can_read_a_chosen_body() -> None:
    assert all(callable(getattr(each, "read", None)) for each in registry.packages())


@pytest.mark.parametrize("name", CONTRACTED)
def test_read_gives_the_event_its_webhook_gives(name: str) -> None:
    """The same body with the same headers: the same event, field for field, without a secret."""
    package = registry.package(name)
    body, headers = fixture(name, "created"), SENDERS[name].headers(fixture(name, "created"), NOW)
    received = _received(package.webhook(package.configure(SENDERS[name].env)), body, headers, NOW)
    assert registry.read(body, name, headers) == received


@pytest.mark.parametrize("name", CONTRACTED)
def test_read_needs_no_headers(name: str) -> None:
    """Without headers, the event is the webhook's but for an id derived from the body where the id is a header;
    the same body gives the same id."""
    package = registry.package(name)
    body, headers = fixture(name, "created"), SENDERS[name].headers(fixture(name, "created"), NOW)
    received = _received(package.webhook(package.configure(SENDERS[name].env)), body, headers, NOW)
    read = registry.read(body, name)
    assert read == registry.read(body, name)
    assert replace(read, id=received.id) == received
    if name == "polar":  # the id is the webhook-id header only
        assert read.id.startswith("sha256:") and read.id != received.id
    else:
        assert read.id == received.id


def test_read_of_a_standard_event_without_its_header_derives_a_stable_id() -> None:
    body = json.dumps({"type": "user.created", "timestamp": "2026-11-02T09:20:12Z", "data": {}}).encode()
    first, again = registry.read(body, "standard"), registry.read(body, "standard")
    assert first.id == again.id and first.id.startswith("sha256:") and first.created == 1_793_611_212.0
    other = registry.read(body.replace(b"user", b"team"), "standard")
    assert other.id != first.id
    assert registry.read(body, "standard", {"Webhook-Id": "msg_1"}).id == "msg_1"


def test_read_never_guesses_a_time_a_standard_event_does_not_carry() -> None:
    body = json.dumps({"type": "user.created", "data": {}}).encode()
    with pytest.raises(PayloadError, match="webhook-timestamp"):
        registry.read(body, "standard")
    assert registry.read(body, "standard", {"webhook-timestamp": "1793611212"}).created == 1_793_611_212.0


def test_read_of_a_maxio_form_without_header_or_id_derives_one() -> None:
    body = fixture("maxio", "created")
    without = b"&".join(part for part in body.split(b"&") if not part.startswith(b"id="))
    first = registry.read(without, "maxio")
    assert first.id == registry.read(without, "maxio").id and first.id.startswith("sha256:")
    assert registry.read(body, "maxio").id == "1482205331"


def test_read_checks_no_signature_but_still_refuses_what_is_not_an_event() -> None:
    with pytest.raises(PayloadError, match="Paddle"):
        registry.read(b'{"id": "evt_1"}', "paddle")
    with pytest.raises(PayloadError, match="Braintree"):
        registry.read(b"bt_signature=x", "braintree")


def test_read_defaults_to_the_first_registered_provider_and_refuses_an_unknown_one() -> None:
    assert registry.read(fixture("stripe", "created")).provider == registry.PACKAGES[0]
    with pytest.raises(ConfigError, match="no provider 'nope'"):
        registry.read(b"{}", "nope")
