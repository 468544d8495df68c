"""Who gets in: the console's 404 when it is off, the login, its cookie, CSRF on every form, the throttle, logout."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from bridge.web.admin.session import SIGNED_IN_SECONDS
from bridge.web.admin.throttle import FREE_ATTEMPTS
from bridge.web.app import create_app
from tests.conftest import make_settings
from tests.web.admin.conftest import PASSWORD, Console, csrf_of

PAGES = ["/admin/", "/admin/events", "/admin/events?status=failed", "/admin/events/stripe/evt_1",
         "/admin/accounts?id=acme", "/admin/accounts/acme", "/admin/accounts/acme/replay", "/admin/failures",
         "/admin/failures/retry?source=metadata&state=failed&reason=x", "/admin/mappings", "/admin/mappings/try"]
FORMS = ["/admin/logout", "/admin/failures/retry", "/admin/failures/retry-one", "/admin/accounts/acme/replay",
         "/admin/mappings/try"]


def admin_rules(console: Console) -> set[str]:
    return {rule.rule for rule in console.app.url_map.iter_rules() if rule.endpoint.startswith("admin.")}


def test_admin_pages_listed_here_cover_every_route(console: Console) -> None:
    covered = {path.split("?")[0] for path in PAGES + FORMS} | {"/admin/login", "/admin/static/admin.css"}
    for rule in admin_rules(console):
        concrete = (rule.replace("<path:event_id>", "evt_1").replace("<provider>", "stripe")
                    .replace("<path:account_id>", "acme").replace("<path:filename>", "admin.css"))
        assert concrete in covered, f"{rule} is not in PAGES or FORMS: add it so the tests below cover it"


@pytest.mark.parametrize("path", [*PAGES, "/admin", "/admin/login", "/admin/static/admin.css", "/admin/anything"])
def test_admin_every_path_is_404_without_the_password_setting(tmp_path: Path, path: str) -> None:
    client = create_app(make_settings(f"sqlite:///{tmp_path / 'bridge.db'}")).test_client()
    assert client.get(path).status_code == 404
    assert client.post(path, data={"password": PASSWORD}).status_code in (404, 405)


@pytest.mark.parametrize("path", PAGES)
def test_admin_every_page_redirects_to_the_login_when_logged_out(console: Console, path: str) -> None:
    answer = console.client.get(path)
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/admin/login?next=")


@pytest.mark.parametrize("path", FORMS)
def test_admin_every_form_redirects_to_the_login_when_logged_out(console: Console, path: str) -> None:
    csrf = console.csrf()  # an anonymous session's token does not make a signed-in one
    answer = console.client.post(path, data={"csrf_token": csrf, "source": "metadata"})
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/admin/login")


def test_admin_login_lands_where_the_operator_was_going(console: Console) -> None:
    assert console.client.get("/admin/failures").headers["Location"] == "/admin/login?next=/admin/failures"
    answer = console.client.post("/admin/login", data={"password": PASSWORD, "csrf_token": console.csrf(),
                                                        "next": "/admin/failures"})
    assert answer.status_code == 302 and answer.headers["Location"] == "/admin/failures"
    assert console.client.get("/admin/failures").status_code == 200


@pytest.mark.parametrize("target", ["//evil.example/admin", "https://evil.example/admin", "/elsewhere"])
def test_admin_login_never_sends_the_browser_off_the_console(console: Console, target: str) -> None:
    answer = console.client.post("/admin/login", data={"password": PASSWORD, "csrf_token": console.csrf(),
                                                        "next": target})
    assert answer.headers["Location"] == "/admin/"


def test_admin_session_cookie_flags(console: Console) -> None:
    answer = console.log_in()
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/admin" in cookie
    assert "Secure" not in cookie  # plain HTTP on loopback: a Secure cookie would never come back


def test_admin_session_cookie_is_secure_behind_https(console: Console) -> None:
    headers = {"X-Forwarded-Proto": "https"}
    csrf = csrf_of(console.client.get("/admin/login", headers=headers))
    answer = console.client.post("/admin/login", data={"password": PASSWORD, "csrf_token": csrf}, headers=headers)
    assert answer.status_code == 302 and "; Secure" in answer.headers["Set-Cookie"]


def test_admin_login_without_its_csrf_token_is_refused(console: Console) -> None:
    console.csrf()
    answer = console.client.post("/admin/login", data={"password": PASSWORD})
    assert answer.status_code == 400
    assert console.client.get("/admin/").status_code == 302


def test_admin_form_without_its_csrf_token_is_refused(signed_in: Console) -> None:
    answer = signed_in.client.post("/admin/logout")
    assert answer.status_code == 400 and "Form refused" in answer.get_data(as_text=True)
    assert signed_in.client.get("/admin/").status_code == 200  # still logged in: the logout did not happen


def test_admin_form_with_another_sessions_token_is_refused(console_factory: Callable[..., Console]) -> None:
    first, second = console_factory(), console_factory()
    first.log_in()
    second.log_in()
    stolen = csrf_of(second.client.get("/admin/failures/retry?source=metadata&state=failed&reason="))
    answer = first.client.post("/admin/logout", data={"csrf_token": stolen})
    assert answer.status_code == 400


def test_admin_logout_ends_the_session(signed_in: Console) -> None:
    csrf = csrf_of(signed_in.client.get("/admin/"))
    answer = signed_in.client.post("/admin/logout", data={"csrf_token": csrf})
    assert answer.status_code == 302
    assert signed_in.client.get("/admin/").status_code == 302
    assert "You are logged out." in signed_in.page("/admin/login?out=1")


def test_admin_session_expires(signed_in: Console) -> None:
    signed_in.clock.advance(SIGNED_IN_SECONDS - 60)
    assert signed_in.client.get("/admin/").status_code == 200
    signed_in.clock.advance(120)
    assert signed_in.client.get("/admin/").status_code == 302


def test_admin_new_password_ends_every_session(signed_in: Console, tmp_path: Path) -> None:
    cookie = signed_in.client.get_cookie("bridge_admin", path="/admin")
    assert cookie is not None
    other = create_app(make_settings(f"sqlite:///{tmp_path / 'bridge.db'}", admin_password="a-new-password-xyz"),
                       clock=signed_in.clock).test_client()
    other.set_cookie("bridge_admin", cookie.value, path="/admin")
    assert other.get("/admin/").status_code == 302


def test_admin_processes_on_one_database_accept_each_others_sessions(signed_in: Console, tmp_path: Path) -> None:
    cookie = signed_in.client.get_cookie("bridge_admin", path="/admin")
    assert cookie is not None
    other = create_app(make_settings(f"sqlite:///{tmp_path / 'bridge.db'}", admin_password=PASSWORD),
                       clock=signed_in.clock).test_client()
    other.set_cookie("bridge_admin", cookie.value, path="/admin")
    assert other.get("/admin/").status_code == 200


def test_admin_failed_logins_are_throttled_for_every_process(console: Console, tmp_path: Path) -> None:
    for _ in range(FREE_ATTEMPTS):
        assert console.log_in("wrong-password").status_code == 403
    refused = console.log_in(PASSWORD)  # even the right password waits: the attempt is not checked
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    other = create_app(make_settings(f"sqlite:///{tmp_path / 'bridge.db'}", admin_password=PASSWORD),
                       clock=console.clock).test_client()
    csrf = csrf_of(other.get("/admin/login"))
    assert other.post("/admin/login", data={"password": PASSWORD, "csrf_token": csrf}).status_code == 429
    console.clock.advance(3)
    assert console.log_in(PASSWORD).status_code == 302
    console.client = console.app.test_client()  # another browser
    assert console.log_in("wrong-password").status_code == 403  # a success started the count over


def test_admin_throttle_waits_longer_after_each_failure(console: Console) -> None:
    for _ in range(FREE_ATTEMPTS):
        console.log_in("wrong-password")
    console.clock.advance(2.5)
    assert console.log_in("wrong-password").status_code == 403  # the wait was 2 s; this failure makes it 4 s
    console.clock.advance(2.5)
    assert console.log_in(PASSWORD).status_code == 429
    console.clock.advance(2)
    assert console.log_in(PASSWORD).status_code == 302


def test_admin_password_never_appears_in_answers_cookies_or_logs(console: Console,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    for password in ("wrong-password", PASSWORD):
        answer = console.log_in(password)
        seen += [answer.get_data(as_text=True), str(answer.headers)]
    for path in PAGES:
        answer = console.client.get(path)
        seen += [answer.get_data(as_text=True), str(answer.headers)]
    cookie = console.client.get_cookie("bridge_admin", path="/admin")
    assert cookie is not None
    body = cookie.value.split(".")[0]
    seen.append(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode())
    assert "admin login" in caplog.text and "admin login failed" in caplog.text
    for text in [*seen, caplog.text]:
        assert PASSWORD not in text and "wrong-password" not in text


def test_admin_answers_carry_security_headers(signed_in: Console) -> None:
    answer = signed_in.client.get("/admin/")
    assert "default-src 'none'" in answer.headers["Content-Security-Policy"]
    assert answer.headers["X-Frame-Options"] == "DENY" and answer.headers["Cache-Control"] == "no-store"


def test_admin_stylesheet_is_served_from_the_package_to_anyone(console: Console) -> None:
    answer = console.client.get("/admin/static/admin.css")
    assert answer.status_code == 200 and answer.mimetype == "text/css" and b"@media" in answer.data
