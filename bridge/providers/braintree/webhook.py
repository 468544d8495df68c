"""Braintree: `bt_signature` verification, the destination challenge, and notification parsing.

Braintree posts a form (`application/x-www-form-urlencoded`) with two fields: `bt_payload`, the notification
XML in base64 (with the line breaks of its encoder), and `bt_signature`, `public_key|hex` pairs joined by `&`.
Each hex is the HMAC-SHA1 of the `bt_payload` string as sent, keyed with the raw SHA-1 digest of the private
key; only the pair naming our public key counts (braintree_python `webhook_notification_gateway.py`,
`util/crypto.py`). Like Braintree's SDKs, the signature is also accepted over the payload plus one trailing
newline, which some form readers strip. There is no timestamp in the signature, so no tolerance: a replay is
stopped by the dedupe key instead.

When a destination is added, Braintree checks it with `GET ?bt_challenge=<hex>` and expects
`public_key|hex(HMAC-SHA1(SHA1(private_key), challenge))` as text (`challenge`).

Notifications have no id. The dedupe key is `{kind}:{subject id}:{timestamp}` — the same notification retried
keeps its timestamp, two different notifications of one subject differ in kind or time (docs/providers/
braintree.md). `created` is the notification's `<timestamp>`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from bridge.errors import PayloadError, SignatureError
from bridge.providers import Event, storable
from bridge.providers.braintree.identity import customer_of
from bridge.providers.braintree.notification import decode
from bridge.providers.braintree.times import instant
from bridge.providers.values import text

NAME = "braintree"
MAX_FIELDS = 10  # form fields worth reading; Braintree sends two
MAX_PAIRS = 20  # signature pairs worth reading; Braintree sends one per key of the account
SUBJECTS = ("subscription", "dispute", "transaction", "disbursement", "merchant_account")
_CHALLENGE = re.compile(r"[a-f0-9]{20,32}")  # what Braintree's SDKs accept


def sign(private_key: str, message: str) -> str:
    """Braintree's HMAC: SHA-1, keyed with the SHA-1 digest of the private key, in lower-case hex."""
    key = hashlib.sha1(private_key.encode("utf-8")).digest()  # noqa: S324 (Braintree's scheme, not our choice)
    return hmac.new(key, message.encode("utf-8"), hashlib.sha1).hexdigest()


def form_fields(body: bytes) -> dict[str, str]:
    """The form's fields, each named once; PayloadError for a body that is not such a form."""
    try:
        text = body.decode("ascii")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True, max_num_fields=MAX_FIELDS,
                          errors="strict")
    except UnicodeDecodeError:
        raise PayloadError("body is not a Braintree notification: a form is plain ASCII") from None
    except ValueError:
        raise PayloadError("body is not a Braintree notification form (bt_signature, bt_payload)") from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name in fields:
            raise PayloadError(f"form field {name[:40]!r} is sent more than once")
        fields[name] = value
    return fields


class BraintreeProvider:
    """Verifies `bt_signature` with one key pair; answers the challenge; parses notifications."""

    name = NAME

    def __init__(self, public_key: str, private_key: str):
        self._public_key = public_key
        self._private_key = private_key

    def verify(self, body: bytes, headers: Mapping[str, str], now: float) -> None:
        """SignatureError unless a pair naming our public key signs `bt_payload` (no timestamp: `now` is unused)."""
        fields = form_fields(body)
        signature, payload = fields.get("bt_signature", ""), fields.get("bt_payload", "")
        if not signature:
            raise SignatureError("missing bt_signature form field")
        if not payload:
            raise SignatureError("missing bt_payload form field")
        offered = self._ours(signature)
        expected = [sign(self._private_key, message).encode() for message in (payload, payload + "\n")]
        if not any(hmac.compare_digest(e, o) for e in expected for o in offered):
            raise SignatureError("bt_signature does not match bt_payload for BRAINTREE_PRIVATE_KEY")

    def _ours(self, signature: str) -> list[bytes]:
        """The signatures of the pairs naming our public key (Braintree's SDKs ignore the others)."""
        pairs = [pair.partition("|") for pair in signature.split("&", MAX_PAIRS)[:MAX_PAIRS]]
        if not any(separator for _, separator, _ in pairs):
            raise SignatureError("bt_signature is not a list of public_key|signature pairs")
        found = [value.encode("utf-8", "replace") for key, separator, value in pairs
                 if separator and hmac.compare_digest(key.encode("utf-8", "replace"), self._public_key.encode())]
        if not found:
            raise SignatureError("bt_signature has no signature for BRAINTREE_PUBLIC_KEY")
        return found

    def challenge(self, value: str) -> str:
        """The answer to `GET /webhooks/braintree?bt_challenge=<value>`, sent back as text/plain."""
        if not isinstance(value, str) or not _CHALLENGE.fullmatch(value):
            raise PayloadError("bt_challenge must be 20 to 32 lower-case hexadecimal characters")
        return f"{self._public_key}|{sign(self._private_key, value)}"

    def parse(self, body: bytes, headers: Mapping[str, str] | None = None) -> Event:
        """The notification of a verified form as an Event (the headers carry nothing Braintree needs)."""
        payload = form_fields(body).get("bt_payload", "")
        if not payload:
            raise PayloadError("body is not a Braintree notification: no bt_payload")
        return storable(event(decode(payload), payload))

    def receive(self, body: bytes, headers: Mapping[str, str], now: float) -> Event:
        """Verify, then parse: the one call the web layer needs for a POST."""
        self.verify(body, headers, now)
        return self.parse(body, headers)


def event(notification: Mapping[str, Any], raw: str = "") -> Event:
    """A decoded notification as an Event; the payload keeps the decoded document and the `bt_payload` as sent."""
    kind = notification.get("kind")
    if not isinstance(kind, str) or not kind:
        raise PayloadError("body is not a Braintree notification: no <kind>")
    stamp = notification.get("timestamp")
    created = instant(stamp)
    if created is None or not isinstance(stamp, str):
        raise PayloadError("body is not a Braintree notification: <timestamp> is not a datetime")
    subject = notification.get("subject")
    if not isinstance(subject, dict):
        raise PayloadError("body is not a Braintree notification: no <subject>")
    return Event(
        provider=NAME,
        id=dedupe_key(kind, subject, stamp, raw),
        type=kind,
        created=created,
        livemode=None,  # sandbox and production have their own keys and destinations
        api_version=None,
        connect_account=text(notification.get("source_merchant_id")),
        customer_id=customer_of(subject),
        payload={"notification": notification, "bt_payload": raw},
    )


def dedupe_key(kind: str, subject: Mapping[str, Any], timestamp: str, raw: str) -> str:
    """`{kind}:{subject id}:{timestamp}`; a digest of the payload when the subject has no id or the key is long."""
    subject_id = subject_id_of(subject)
    key = f"{kind}:{subject_id}:{timestamp}" if subject_id else ""
    if not key or len(key) > 255 or not key.isprintable():
        key = f"{kind[:100]}:sha256:{hashlib.sha256(raw.replace(chr(10), '').encode()).hexdigest()}"
    return key


def subject_id_of(subject: Mapping[str, Any]) -> str | None:
    """The id of the notification's subject (its subscription, dispute, transaction, …)."""
    for name in SUBJECTS:
        found = subject.get(name)
        if isinstance(found, Mapping) and text(found.get("id")):
            return text(found.get("id"))
    for found in subject.values():
        if isinstance(found, Mapping) and text(found.get("id")):
            return text(found.get("id"))
    return None
