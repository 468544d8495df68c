"""Logging in and out, and the guard in front of every other admin view: signed in, CSRF token on every POST,
security headers on every answer. The password is compared in constant time and never logged or echoed."""

from __future__ import annotations

import hashlib
import hmac
import logging
from urllib.parse import urlsplit

from flask import Blueprint, Response, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from bridge.web.admin.console import Console
from bridge.web.admin.session import COOKIE, Session

log = logging.getLogger("bridge.admin")

OPEN_ENDPOINTS = ("admin.login", "admin.static")
FORM_BYTES = 64 * 1024  # forms beyond the dry run's pasted JSON are small
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def password_matches(offered: str, expected: str) -> bool:
    """Constant time whatever the lengths: both sides are hashed first."""
    return hmac.compare_digest(hashlib.sha256(offered.encode()).digest(), hashlib.sha256(expected.encode()).digest())


def safe_next(target: str | None) -> str | None:
    """A path inside the console to go back to after logging in, never another site."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/admin") or target.startswith("//"):
        return None
    return target


def refuse(status: int, title: str, message: str) -> tuple[str, int]:
    return render_template("admin/error.html", title=title, message=message), status


def register(blueprint: Blueprint, console: Console) -> None:
    """Add the guard and the login and logout views."""

    @blueprint.before_request
    def guard() -> BaseResponse | tuple[str, int] | None:
        # A pasted event may be as big as a webhook body (Flask >= 3.1 sets these per request).
        request.max_content_length = request.max_form_memory_size = console.settings.max_body_bytes + FORM_BYTES
        if request.endpoint == "admin.static":
            return None
        g.admin_session = console.sessions().decode(request.cookies.get(COOKIE), console.clock())
        if request.endpoint in OPEN_ENDPOINTS:
            return None
        session: Session | None = g.admin_session
        if session is None or not session.signed_in:
            wanted = request.full_path.rstrip("?") if request.method == "GET" else None
            return redirect(url_for("admin.login", next=wanted))
        if request.method == "POST" and not session.csrf_matches(request.form.get("csrf_token")):
            return refused_form()
        return None

    @blueprint.context_processor
    def session_context() -> dict[str, object]:
        session: Session | None = g.get("admin_session")
        signed_in = session is not None and session.signed_in
        return {"admin_signed_in": signed_in, "admin_csrf": session.csrf if session and signed_in else ""}

    @blueprint.after_request
    def finish(response: Response) -> Response:
        response.headers.update(HEADERS)
        fresh: Session | None = g.get("admin_new_session")
        if fresh is not None:
            response.set_cookie(COOKIE, console.sessions().encode(fresh), max_age=int(fresh.expires - console.clock()),
                                path="/admin", secure=request.is_secure, httponly=True, samesite="Lax")
        return response

    @blueprint.route("/login", methods=["GET", "POST"])
    def login() -> BaseResponse | tuple[str, int]:
        session: Session | None = g.admin_session
        if session is not None and session.signed_in and request.method == "GET":
            return redirect(safe_next(request.args.get("next")) or url_for("admin.overview"))
        if request.method == "GET":
            if session is None:
                g.admin_new_session = session = console.sessions().new(console.clock(), signed_in=False)
            notice = "You are logged out." if request.args.get("out") else None
            return render_template("admin/login.html", csrf=session.csrf, next=request.args.get("next", ""),
                                   error=None, notice=notice), 200
        if session is None or not session.csrf_matches(request.form.get("csrf_token")):
            return refused_form()
        return _check_password(console, session)

    @blueprint.post("/logout")
    def logout() -> BaseResponse:
        g.admin_new_session = console.sessions().new(console.clock(), signed_in=False)
        log.info("admin logout", extra={"remote_addr": request.remote_addr})
        return redirect(url_for("admin.login", out=1))


def _check_password(console: Console, session: Session) -> BaseResponse | tuple[str, int]:
    now = console.clock()
    wait = console.throttle.wait(now)
    target = request.form.get("next", "")
    if wait > 0:
        log.warning("admin login refused: too many failed attempts", extra={"remote_addr": request.remote_addr})
        page = render_template("admin/login.html", csrf=session.csrf, next=target,
                               error=f"Too many failed attempts: try again in {int(wait) + 1} s.")
        return Response(page, 429, headers={"Retry-After": str(int(wait) + 1)})
    expected = console.settings.admin_password or ""
    if not password_matches(request.form.get("password", ""), expected):
        failures = console.throttle.failed(now)
        log.warning("admin login failed", extra={"remote_addr": request.remote_addr, "failures": failures})
        return render_template("admin/login.html", csrf=session.csrf, next=target, error="Wrong password."), 403
    console.throttle.succeeded(now)
    g.admin_new_session = console.sessions().new(now, signed_in=True)  # a new CSRF token once signed in
    log.info("admin login", extra={"remote_addr": request.remote_addr})
    return redirect(safe_next(target) or url_for("admin.overview"))


def refused_form() -> tuple[str, int]:
    return refuse(400, "Form refused", "This form has expired or did not come from this console. Go back, reload "
                  "the page and send it again.")
