"""What `bridge demo` shows of Stripe: its bundled sample events, signed with the run's secret, and its config."""

from __future__ import annotations

import json
from importlib import resources

from bridge.providers.stripe.config import StripeConfig
from bridge.providers.stripe.webhook import sign

# The customer first, as Stripe sends it: a subscription's MRR needs its customer (a customer-wide coupon).
SAMPLES = ("customer.created.json", "customer.subscription.created.json", "invoice.paid.json")
TIME_KEYS = {"created", "current_period_start", "current_period_end", "paid_at"}


def _shift_times(value: object, now: int) -> object:
    """The samples hold times as offsets from now (0 is now); make them real unix times."""
    if isinstance(value, dict):
        return {k: v + now if k in TIME_KEYS and isinstance(v, int) else _shift_times(v, now)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_shift_times(item, now) for item in value]
    return value


def sample(name: str, now: int) -> bytes:
    """A bundled sample event, its times relative to `now`."""
    text = resources.files("bridge.providers.stripe.samples").joinpath(name).read_text()
    return json.dumps(_shift_times(json.loads(text), now)).encode()


def demo_config(secret: str) -> StripeConfig:
    """The demo's configuration: the run's secret, events of both modes mapped."""
    return StripeConfig(webhook_secrets=(secret,), mode="both")


def demo_deliveries(secret: str, now: int) -> list[tuple[str, bytes, dict[str, str]]]:
    """Each sample as Stripe would deliver it: its name, the body, the signed headers."""
    deliveries = []
    for name in SAMPLES:
        body = sample(name, now)
        header = f"t={now},v1={sign(body, now, secret)}"
        deliveries.append((name, body, {"Stripe-Signature": header, "Content-Type": "application/json"}))
    return deliveries
