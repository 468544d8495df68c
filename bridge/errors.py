"""The package's one error tree.

    BridgeError
    ├── ConfigError            a setting is missing or wrong (exit 2, refuse to start)
    │   └── ImportSetupError   an import cannot start: a column, an option, the source (imports.fields)
    ├── MappingError           a mapping file does not load (file, rule, reason)
    ├── EvaluationError        an event's evaluation went over a bound (rule, field): the event fails
    ├── RequestRejected        a webhook or API request is refused (HTTP 400 / 413)
    │   ├── SignatureError     missing, invalid or stale signature
    │   ├── PayloadError       the body is not an event of the provider
    │   ├── BodyInvalid        an API body: every problem with its JSON path (web.api_bodies)
    │   └── TooLarge           the body is over the size limit
    ├── KeyProblem             an API key cannot be created or revoked as asked (store.keys)
    ├── SourceError            an import's source failed mid-way; a rerun resumes (imports.sources)
    ├── StoreUnavailable       the database cannot commit (HTTP 503)
    ├── EventRefused           the database refuses one event's values: the event's fault (HTTP 400)
    ├── EnrichmentUnavailable  a provider's API could not be asked for an event's enrichment: retried later
    └── PendoError             Pendo answered with a failure
        ├── PendoAuthError     401/403: pauses all sending (track events only, for the track secret)
        └── PendoTransient     connection error, timeout, 409, 429, 5xx: retry later

Messages name the setting or file to fix and never contain a secret or a signature.
"""

from __future__ import annotations


class BridgeError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigError(BridgeError):
    """A setting is missing or has a value the service cannot use."""


class MappingError(BridgeError):
    """A mapping file is invalid; the message names the file, the rule and the reason."""


class EvaluationError(BridgeError):
    """Evaluating an event went over a bound (time, or the size of a value); the message names rule and field."""


class RequestRejected(BridgeError):
    """A webhook request is refused before anything is stored."""

    status = 400


class SignatureError(RequestRejected):
    """The signature header is missing, malformed, wrong or outside the time tolerance."""


class PayloadError(RequestRejected):
    """The body is not a JSON event of the provider."""


class TooLarge(RequestRejected):
    """The body is larger than the configured limit."""

    status = 413


class StoreUnavailable(BridgeError):
    """The database could not commit; the sender should retry."""


class EventRefused(BridgeError):
    """The database refused an event's values (too long, a character it cannot hold): retrying cannot help."""


class EnrichmentUnavailable(BridgeError):
    """A provider's API could not be asked right now; the event is retried later."""


class EventUnconfirmed(BridgeError):
    """The provider's API does not vouch for a webhook's event (it has no such event, or another one): the event
    is held, never mapped, whatever else it raises too."""


class PendoError(BridgeError):
    """Pendo refused a request; `status` is the HTTP status or None for a network failure."""

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class PendoAuthError(PendoError):
    """Pendo answered 401 or 403: wrong key, read-only key or wrong region."""


class PendoTransient(PendoError):
    """A failure worth retrying: network, timeout, 409, 429 or 5xx."""
