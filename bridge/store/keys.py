"""Keys of the HTTP API: created once, kept as a hash, revoked by name; each key's pace and use.

A key reads `brk_<key id>_<secret>`. The row keeps the key id (to find the row) and a SHA-256 of the whole key,
never the key: it is shown once, when created. Keys are long random strings, so a plain hash is enough; the
hashes are compared in constant time.

A key's requests are paced like the Pendo budget (`bridge.pendo.budget`): GCRA on the key's own row, one
conditional UPDATE inside the transaction that stores the request, so every web process shares one pace and a
revoked key is refused even by a request that was already on its way.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, case, select, update
from sqlalchemy.exc import IntegrityError

from bridge.errors import BridgeError
from bridge.store.db import reading
from bridge.store.schema import api_keys

SCOPES = ("track", "metadata")
NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,31}")  # whole name (fullmatch)
PREFIX = "brk_"
KEY_ID_HEX = 12
RESERVED = ("webhooks",)  # the source name of the webhooks' own rows in `bridge status`
COUNTERS = ("requests", "accepted", "duplicates", "rejected", "limited")


class KeyProblem(BridgeError):
    """A key cannot be created or revoked as asked (a bad or taken name, an unknown key)."""


@dataclass(frozen=True)
class ApiKey:
    """A key as the service knows it: never the key itself."""

    name: str
    key_id: str
    scopes: tuple[str, ...]
    created_at: float
    revoked_at: float | None = None
    last_used_at: float | None = None
    requests: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    limited: int = 0

    @property
    def shown_as(self) -> str:
        """How the key starts, enough to tell keys apart and nothing to use."""
        return f"{PREFIX}{self.key_id}_…"

    def usage(self) -> dict[str, Any]:
        return {"scopes": list(self.scopes), "key": self.shown_as, "created_at": self.created_at,
                "revoked_at": self.revoked_at, "last_used_at": self.last_used_at,
                **{name: getattr(self, name) for name in COUNTERS}}


@dataclass(frozen=True)
class Pace:
    """A key's allowed rate (requests per second) and burst, as GCRA's interval and tolerance."""

    rate: float
    burst: int

    @property
    def interval(self) -> float:
        return 1.0 / self.rate

    @property
    def tolerance(self) -> float:
        return (self.burst - 1) * self.interval


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_id_of(presented: str) -> str | None:
    """The key id part of something offered as a key, or None when it does not have a key's shape."""
    if not presented.startswith(PREFIX) or len(presented) < len(PREFIX) + KEY_ID_HEX + 2:
        return None
    key_id, separator = presented[len(PREFIX):len(PREFIX) + KEY_ID_HEX], presented[len(PREFIX) + KEY_ID_HEX]
    return key_id if separator == "_" and all(c in "0123456789abcdef" for c in key_id) else None


def check_scopes(scopes: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise KeyProblem(f"unknown scope {', '.join(unknown)}: scopes are {', '.join(SCOPES)}")
    return tuple(s for s in SCOPES if s in scopes) or SCOPES


def create(engine: Engine, name: str, scopes: tuple[str, ...], now: float) -> str:
    """Store a new key under `name` and return it: the only time it is ever available."""
    if name in RESERVED:
        raise KeyProblem(f"key name {name!r} is reserved: status shows the webhooks' rows under it")
    if not NAME.fullmatch(name):
        raise KeyProblem(f"key name {name!r}: use 1 to 32 lower-case letters, digits, '.', '_' or '-', starting "
                         "with a letter or digit (the name is the source shown in `bridge status`)")
    key_id = secrets.token_hex(KEY_ID_HEX // 2)
    key = f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    row = {"name": name, "key_id": key_id, "key_hash": digest(key), "scopes": ",".join(check_scopes(scopes)),
           "created_at": now, "tat": 0.0, **dict.fromkeys(COUNTERS, 0)}
    try:
        with engine.begin() as connection:
            connection.execute(api_keys.insert().values(**row))
    except IntegrityError:
        raise KeyProblem(f"a key named {name!r} exists already (revoked keys keep their name): "
                         "choose another name") from None
    return key


def _key(row: Any) -> ApiKey:
    return ApiKey(row["name"], row["key_id"], tuple(s for s in row["scopes"].split(",") if s), row["created_at"],
                  row["revoked_at"], row["last_used_at"], *(int(row[c]) for c in COUNTERS))


def list_keys(engine: Engine) -> list[ApiKey]:
    with reading(engine) as connection:
        rows = connection.execute(select(api_keys).order_by(api_keys.c.name)).mappings().all()
    return [_key(row) for row in rows]


def revoke(engine: Engine, name: str, now: float) -> None:
    """Refuse the key from now on; its name and its counters stay."""
    with engine.begin() as connection:
        found = connection.execute(select(api_keys.c.revoked_at).where(api_keys.c.name == name)).first()
        if found is None:
            raise KeyProblem(f"no key named {name!r} (see `bridge keys list`)")
        if found[0] is None:
            connection.execute(update(api_keys).where(api_keys.c.name == name).values(revoked_at=now))


def authenticate(engine: Engine, presented: str) -> ApiKey | None:
    """The active key `presented` is, or None (malformed, unknown, wrong secret or revoked)."""
    key_id = key_id_of(presented)
    if key_id is None:
        return None
    with reading(engine) as connection:
        row = connection.execute(select(api_keys).where(api_keys.c.key_id == key_id)).mappings().first()
    if row is None or not hmac.compare_digest(row["key_hash"], digest(presented)):
        return None
    return None if row["revoked_at"] is not None else _key(row)


def take_slot(connection: Connection, name: str, now: float, pace: Pace) -> bool:
    """Count one request of an active key against its pace; False when over it, or when the key was revoked."""
    c = api_keys.c
    return connection.execute(
        update(api_keys).where(c.name == name, c.revoked_at.is_(None), c.tat <= now + pace.tolerance).values(
            tat=case((c.tat > now, c.tat), else_=now) + pace.interval, requests=c.requests + 1, last_used_at=now)
    ).rowcount == 1


def wait_for_slot(connection: Connection, name: str, now: float, pace: Pace) -> float | None:
    """Seconds before the key's next request would be allowed; None when the key is revoked or gone."""
    row = connection.execute(select(api_keys.c.tat, api_keys.c.revoked_at).where(api_keys.c.name == name)).first()
    if row is None or row[1] is not None:
        return None
    return max(float(row[0]) - pace.tolerance - now, 0.0)


def count(connection: Connection, name: str, **deltas: int) -> None:
    """Add to a key's counters (accepted, duplicates, rejected, limited)."""
    c = api_keys.c
    values = {column: getattr(c, column) + delta for column, delta in deltas.items() if delta}
    if values:
        connection.execute(update(api_keys).where(c.name == name).values(**values))
