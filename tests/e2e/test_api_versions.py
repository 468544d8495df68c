"""Stripe API versions through the real web and worker processes into a fake Pendo."""

from __future__ import annotations

import json
import signal
import subprocess
import textwrap
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from tests.conftest import ROOT
from tests.e2e.harness import BIN, Service, know_customer, stripe_event, wait_until
from tests.e2e.payloads import subscription
from tests.e2e.test_pipeline import stored_events
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


FIG = "2027-03-24.fig"  # a made-up release after endive
# What a bridge release that knows fig would bring, loaded at start-up: fig in the version table, and its adapter
# moving the items' periods back from where this made-up release put them.
UPGRADE = """\
from bridge.providers.stripe import versions

versions.RELEASES["fig"] = "2027-03-24"
_normalise = versions.normalise


def _fig(payload):
    result = _normalise(payload)
    obj = result.get("data", {}).get("object")
    items = (obj.get("items") or {}).get("data") if isinstance(obj, dict) else None
    for item in items or []:
        period = item.pop("billing_period", None)
        if isinstance(period, dict):
            item.update(current_period_start=period["start"], current_period_end=period["end"])
    return _normalise(result)


versions.normalise = _fig
"""


def bridge(service: Service, *args: str, **env: str) -> str:
    """Run a `bridge` command as the user would; its output."""
    done = subprocess.run([str(BIN / "bridge"), *args], env={**service.env, **env}, cwd=service.tmp_path,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def fig_event(account: str, moved: bool = False) -> dict[str, Any]:
    sub = subscription(account=account, sub_id=f"sub_{account}", customer=f"cus_{account}")
    if moved:
        item = sub["items"]["data"][0]
        item["billing_period"] = {"start": item.pop("current_period_start"), "end": item.pop("current_period_end")}
    return stripe_event("customer.subscription.created", sub, api_version=FIG)


def alerts_in(service: Service, name: str) -> int:
    lines = [json.loads(line) for line in service.log_text().splitlines() if line.startswith("{")]
    return sum(1 for line in lines if line.get("alert") == name)


def test_a_newer_release_in_the_known_shape_is_mapped_and_reported(service_factory: Callable[..., Service],
                                                                   pendo: FakePendo) -> None:
    service = service_factory(BRIDGE_METRICS_TOKEN="metrics-token")
    for account in ("acme", "globex"):
        know_customer(service, f"cus_{account}")
        assert service.post(fig_event(account)).status_code == 200
    for account in ("acme", "globex"):
        wait_until(lambda account=account: pendo.account_values(account).get("mrr") == 98.0)
    assert pendo.account_values("acme")["current_period_end"].startswith("2026-02-01T00:00:00")
    assert sorted(t["event"] for t in wait_until(lambda: len(pendo.track_events()) == 2 and pendo.track_events())) \
        == ["Subscription Created", "Subscription Created"]
    status = json.loads(bridge(service, "status", "--json"))
    assert status["api_versions"]["stripe"][0] | {"last_seen": None} == {
        "api_version": FIG, "events": 2, "statuses": {"mapped": 2}, "support": "newer", "last_seen": None}
    assert status["warnings"] == [
        f"stripe API version {FIG} is newer than this bridge knows (2 event(s) in 30 days: 2 mapped): its events "
        "are mapped as the newest known version when the fields the mappings read are there, else held; upgrade "
        "bridge, then `bridge replay --status held`"]
    metrics = requests.get(f"{service.url}/metrics", headers={"Authorization": "Bearer metrics-token"}, timeout=10)
    assert f'bridge_api_version_events{{provider="stripe",api_version="{FIG}",support="newer"}} 2' in metrics.text
    assert alerts_in(service, "newer_api_version") == 1


def test_a_newer_release_that_moved_a_mapped_field_is_held_then_replayed_after_an_upgrade(
        service: Service, pendo: FakePendo, tmp_path: Path) -> None:
    event = fig_event("acme", moved=True)
    know_customer(service, "cus_acme")
    assert service.post(event).status_code == 200
    wait_until(lambda: dict(stored_events(service)).get(event["id"]) == "held")
    time.sleep(1)
    assert pendo.account_values("acme") == {} and pendo.track_events() == []
    status = json.loads(bridge(service, "status", "--json"))
    assert status["events"] == {"held": 1} and status["api_versions"]["stripe"][0]["statuses"] == {"held": 1}
    assert "1 held event(s) stay held" in bridge(service, "replay", "--status", "held")

    upgrade = tmp_path / "upgrade"
    upgrade.mkdir()
    (upgrade / "sitecustomize.py").write_text(textwrap.dedent(UPGRADE))
    service.signal("worker", signal.SIGTERM)
    assert service.processes["worker"].wait(timeout=25) == 0
    service.run("worker", name="worker-upgraded", PYTHONPATH=str(upgrade))
    assert "1 held event(s) handed back to the worker" in bridge(service, "replay", "--status", "held",
                                                                 PYTHONPATH=str(upgrade))
    values = wait_until(lambda: pendo.account_values("acme").get("mrr") is not None and pendo.account_values("acme"))
    assert values["mrr"] == 98.0 and values["current_period_end"].startswith("2026-02-01T00:00:00")
    [track] = wait_until(pendo.track_events)
    assert (track["event"], track["accountId"]) == ("Subscription Created", "acme")
    assert dict(stored_events(service))[event["id"]] == "mapped"
