"""The admin console (docs/admin.md): pages under /admin in the web process, only when BRIDGE_ADMIN_PASSWORD is set.

    auth      log in and out; the guard: signed in, CSRF on every POST, security headers
    session   the signed session cookie and its key       throttle   failed logins, counted in the database
    pages     overview, events, event, account, failures, mappings (read only)
    actions   retry, replay, the mapping dry run
    events, event, account, failures, mappings   what each page reads      chart   the SVG chart
    redaction masks BRIDGE_REDACT_FIELDS in payloads     filters   how templates write times and JSON
"""

from __future__ import annotations

from flask import Blueprint, Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from bridge.web.admin import actions, auth, pages
from bridge.web.admin.console import Console
from bridge.web.admin.filters import FILTERS

__all__ = ["Console", "install"]


def install(app: Flask, console: Console) -> None:
    """Serve the console under /admin. Behind a PaaS router, which ends HTTPS, `X-Forwarded-Proto` says whether the
    browser used HTTPS (so the session cookie is marked Secure); no other forwarded header is trusted."""
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=0, x_proto=1, x_host=0, x_port=0, x_prefix=0)  # type: ignore[method-assign]
    blueprint = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates",
                          static_folder="static", static_url_path="/static")
    for name, function in FILTERS.items():
        blueprint.add_app_template_filter(function, f"admin_{name}")
    auth.register(blueprint, console)
    pages.register(blueprint, console)
    actions.register(blueprint, console)
    app.register_blueprint(blueprint)
