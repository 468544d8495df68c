"""The admin session: a signed cookie holding whether it is signed in, its CSRF token and when it expires.

The signing key is derived from BRIDGE_ADMIN_PASSWORD with PBKDF2 and a random salt kept in the database, so every
web process of a deployment derives the same key without another setting, a new password ends every session, and a
stolen cookie helps guess the password no faster than PBKDF2 allows. Nothing secret is in the cookie itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

COOKIE = "bridge_admin"
SIGNED_IN_SECONDS = 12 * 3600  # a session ends this long after logging in, whatever happens meanwhile
ANONYMOUS_SECONDS = 2 * 3600  # the login form's own CSRF token
KDF_ITERATIONS = 200_000


def derive_key(password: str, salt: bytes) -> bytes:
    """The cookie signing key of a password (PBKDF2-HMAC-SHA256)."""
    return hashlib.pbkdf2_hmac("sha256", password.encode(), b"bridge admin session\0" + salt, KDF_ITERATIONS)


@dataclass(frozen=True)
class Session:
    """One browser's session: `signed_in` after the password was given; `csrf` goes in every form it posts."""

    signed_in: bool
    csrf: str
    expires: float

    def csrf_matches(self, offered: str | None) -> bool:
        return bool(offered) and hmac.compare_digest(self.csrf.encode(), str(offered).encode())


class Sessions:
    """Makes, signs and reads session cookies with one key."""

    def __init__(self, key: bytes):
        self._key = key

    @staticmethod
    def new(now: float, signed_in: bool) -> Session:
        """A fresh session: a new CSRF token, so logging in never keeps the anonymous one (session fixation)."""
        lifetime = SIGNED_IN_SECONDS if signed_in else ANONYMOUS_SECONDS
        return Session(signed_in, secrets.token_urlsafe(32), now + lifetime)

    def encode(self, session: Session) -> str:
        body = json.dumps({"in": session.signed_in, "csrf": session.csrf, "exp": session.expires},
                          separators=(",", ":")).encode()
        text = base64.urlsafe_b64encode(body).decode().rstrip("=")
        return f"{text}.{self._sign(text)}"

    def decode(self, cookie: str | None, now: float) -> Session | None:
        """The session in a cookie, or None when it is missing, not signed with our key, malformed or expired."""
        if not cookie or "." not in cookie:
            return None
        text, signature = cookie.rsplit(".", 1)
        if not hmac.compare_digest(signature.encode(), self._sign(text).encode()):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
            session = Session(bool(data["in"]), str(data["csrf"]), float(data["exp"]))
        except (ValueError, KeyError, TypeError):
            return None
        return session if session.expires > now else None

    def _sign(self, text: str) -> str:
        digest = hmac.new(self._key, text.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")
