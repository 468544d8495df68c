"""Stripe API versions through the real web and worker processes into a fake Pendo."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from tests.conftest import ROOT
from tests.e2e.harness import Service, wait_until
from tests.fakes.pendo import FakePendo

FIXTURES = ROOT / "tests" / "fixtures" / "stripe"
CLOVER = "2025-09-30.clover"
NEWER = ["2026-03-25.dahlia", "2026-08-26.dahlia", "2026-10-28.endive"]
# Each version's events go to accounts and customers of their own (the ids get a suffix), so one deployment maps
# them all side by side. The clover events are the basil and clover fixtures labelled clover (the shapes of those
# objects did not change in clover); the newer ones are the dahlia and endive fixtures of the same events.
IDS = ["acme-corp", "globex", "cus_RxT4bV9mQp2LkA", "cus_SmShapes0001", "sub_1QgJpy3eZvKYlo2CYen1",
       "sub_1SmShapes3eZvKYlo2C"]


def fixture(kind: str, api_version: str) -> dict[str, Any]:
    """The fixture of `kind` (subscription_created, …) in the shape of `api_version`'s release."""
    release = api_version.rsplit(".", 1)[1]
    if release == "clover":
        name = "subscription_shapes_clover" if kind == "subscription_shapes" else f"{kind}_basil"
    else:
        name = f"{kind}_{release}"
    return dict(json.loads((FIXTURES / f"{name}.json").read_text()))


def tag_of(api_version: str) -> str:
    return api_version.replace(".", "-")


def event_for(kind: str, api_version: str, created: int) -> dict[str, Any]:
    """The fixture as a fresh event of `api_version`, its ids suffixed with the version, created at `created`."""
    text = json.dumps(fixture(kind, api_version))
    for original in IDS:
        text = text.replace(f'"{original}"', f'"{original}-{tag_of(api_version)}"')
    body = dict(json.loads(text))
    body.update(id=f"evt_{uuid.uuid4().hex[:20]}", api_version=api_version, created=created)
    return body


def customer_created(api_version: str, created: int) -> dict[str, Any]:
    """The customer of the acme events, so the worker knows its visitor (there is no Stripe key to look it up)."""
    customer = {"id": f"cus_RxT4bV9mQp2LkA-{tag_of(api_version)}", "object": "customer",
                "email": "ops@acme.example", "metadata": {"pendo_visitor_id": f"user-42-{tag_of(api_version)}"}}
    return {"id": f"evt_{uuid.uuid4().hex[:20]}", "object": "event", "type": "customer.created",
            "api_version": api_version, "created": created, "livemode": True, "data": {"object": customer}}


def post_all(service: Service, api_version: str, now: int) -> None:
    for body in (customer_created(api_version, now - 20), event_for("subscription_shapes", api_version, now - 10),
                 event_for("subscription_created", api_version, now - 10),
                 event_for("invoice_paid", api_version, now - 5)):
        body["livemode"] = True
        assert service.post(body).status_code == 200


def untagged(value: Any, api_version: str) -> Any:
    """A value as Pendo got it, with the version's suffix taken out of the ids."""
    return json.loads(json.dumps(value).replace(f"-{tag_of(api_version)}", ""))


def tracks_of(pendo: FakePendo, api_version: str) -> list[Any]:
    mine = [t for t in pendo.track_events() if str(t["accountId"]).endswith(tag_of(api_version))]
    return sorted((untagged({k: t[k] for k in ("event", "visitorId", "accountId", "timestamp", "properties")},
                            api_version) for t in mine), key=json.dumps)


def accounts_of(pendo: FakePendo, api_version: str) -> dict[str, Any]:
    return {name: untagged(pendo.account_values(f"{name}-{tag_of(api_version)}"), api_version)
            for name in ("acme-corp", "globex")}


def test_dahlia_and_endive_events_reach_pendo_like_clover(service: Service, pendo: FakePendo) -> None:
    now = int(time.time())
    versions = [CLOVER, *NEWER]
    for api_version in versions:
        post_all(service, api_version, now)
    wait_until(lambda: len(pendo.track_events()) == 3 * len(versions), timeout=30)
    wait_until(lambda: all(accounts_of(pendo, v)["acme-corp"].get("last_payment_amount") is not None
                           and accounts_of(pendo, v)["globex"].get("mrr") is not None for v in versions), timeout=30)
    clover = accounts_of(pendo, CLOVER)
    assert clover["globex"]["mrr"] == 120.0 and clover["globex"]["billing_plan"] == "growth_seat"
    assert clover["acme-corp"]["billing_plan"] == "Team quarterly"
    assert clover["acme-corp"]["last_payment_amount"] == 12000.0
    clover_tracks = tracks_of(pendo, CLOVER)
    assert sorted(t["event"] for t in clover_tracks) == ["Invoice Paid", "Subscription Created",
                                                        "Subscription Created"]
    for api_version in NEWER:
        assert accounts_of(pendo, api_version) == clover, api_version
        assert tracks_of(pendo, api_version) == clover_tracks, api_version
