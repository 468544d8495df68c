"""Our Standard Webhooks verifier against the official library (PyPI `standardwebhooks`, in the test extra):
each accepts what the other signs. The library reads the wall clock, so these messages carry the current time."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from bridge.providers.polar.webhook import PolarProvider
from bridge.providers.standard.config import decode_secret
from bridge.providers.standard.webhook import StandardProvider, sign

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the official test vector's secret
POLAR_SECRET = "whsec_Zq-4_Lm9xV2c8N-rT5_hK7pW3sYd"  # shaped like Polar's: whsec_ + a URL-safe token
BODIES = [b'{"test": 2432232314}', '{"type":"contact.created","name":"Zoë"}'.encode(), b'{"type":"a"}\n']


@pytest.mark.parametrize("body", BODIES)
def test_the_library_signs_as_we_do(body: bytes) -> None:
    when = 1_614_265_330
    ours = sign(decode_secret(SECRET, "STANDARD_WEBHOOK_SECRET"), "msg_1", when, body)
    assert Webhook(SECRET).sign("msg_1", datetime.fromtimestamp(when, UTC), body.decode()) == ours


@pytest.mark.parametrize("body", BODIES)
def test_each_accepts_what_the_other_signs(body: bytes) -> None:
    now = int(time.time())
    key = decode_secret(SECRET, "STANDARD_WEBHOOK_SECRET")
    headers = {"webhook-id": "msg_2", "webhook-timestamp": str(now), "webhook-signature": sign(key, "msg_2", now, body)}
    Webhook(SECRET).verify(body, headers)
    theirs = Webhook(SECRET).sign("msg_3", datetime.fromtimestamp(now, UTC), body.decode())
    StandardProvider((key,)).verify(body, {"webhook-id": "msg_3", "webhook-timestamp": str(now),
                                           "webhook-signature": theirs}, now)


def test_polar_messages_verify_with_the_library_only_as_polars_sdk_uses_it() -> None:
    body, now = BODIES[1], int(time.time())
    headers = {"webhook-id": "evt_1", "webhook-timestamp": str(now),
               "webhook-signature": sign(POLAR_SECRET.encode(), "evt_1", now, body)}
    PolarProvider((POLAR_SECRET.encode(),)).verify(body, headers, now)
    # polar_sdk.webhooks.validate_event: the secret base64-encoded, then the standard library
    Webhook(base64.b64encode(POLAR_SECRET.encode()).decode()).verify(body, headers)
    # the library fed Polar's secret as it is: another key, and a refusal
    with pytest.raises(WebhookVerificationError):
        Webhook(POLAR_SECRET).verify(body, headers)
