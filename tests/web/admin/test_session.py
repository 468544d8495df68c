"""The session cookie: signed, expiring, bound to its key."""

from __future__ import annotations

from bridge.web.admin.session import ANONYMOUS_SECONDS, SIGNED_IN_SECONDS, Sessions, derive_key

NOW = 1_000_000.0


def test_session_round_trips() -> None:
    sessions = Sessions(derive_key("a-long-password", b"salt"))
    session = sessions.new(NOW, signed_in=True)
    assert sessions.decode(sessions.encode(session), NOW + 1) == session
    assert session.expires == NOW + SIGNED_IN_SECONDS
    assert sessions.new(NOW, signed_in=False).expires == NOW + ANONYMOUS_SECONDS


def test_session_new_ones_never_share_a_csrf_token() -> None:
    assert Sessions.new(NOW, True).csrf != Sessions.new(NOW, True).csrf


def test_session_expired_is_none() -> None:
    sessions = Sessions(b"k" * 32)
    cookie = sessions.encode(sessions.new(NOW, signed_in=True))
    assert sessions.decode(cookie, NOW + SIGNED_IN_SECONDS + 1) is None


def test_session_tampered_is_none() -> None:
    sessions = Sessions(b"k" * 32)
    cookie = sessions.encode(sessions.new(NOW, signed_in=False))
    body, signature = cookie.split(".")
    forged = sessions.encode(sessions.new(NOW, signed_in=True)).split(".")[0]
    assert sessions.decode(f"{forged}.{signature}", NOW) is None
    assert sessions.decode(f"{body}.{signature[:-2]}", NOW) is None
    for junk in (None, "", "no-dot", ".", "x.y"):
        assert sessions.decode(junk, NOW) is None


def test_session_signed_with_another_key_is_none() -> None:
    cookie = Sessions(derive_key("password-one-xx", b"salt")).encode(Sessions.new(NOW, True))
    assert Sessions(derive_key("password-two-xx", b"salt")).decode(cookie, NOW) is None
    assert Sessions(derive_key("password-one-xx", b"other")).decode(cookie, NOW) is None


def test_session_csrf_compare() -> None:
    session = Sessions.new(NOW, True)
    assert session.csrf_matches(session.csrf)
    assert not session.csrf_matches(None) and not session.csrf_matches("") and not session.csrf_matches("x")
