"""The pages that only read: overview, events, one event, one account, failures, mappings."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response as BaseResponse

from bridge.ops import activity, metrics
from bridge.providers import registry
from bridge.web.admin import account, chart, event, events, failures, mappings
from bridge.web.admin.auth import refuse
from bridge.web.admin.console import Console
from bridge.web.admin.filters import parse_time

STATUSES = ("received", "mapped", "unmapped", "unresolved", "held", "ignored", "failed")
DONE = {  # ?done=… after an action: what happened, in words
    "retried": "{n} row(s) sent round again: the worker picks them up within seconds.",
    "replayed": "Replay queued {n} changed field(s); the worker sends them.",
}
Page = str | tuple[str, int] | BaseResponse


def done_message() -> str | None:
    template = DONE.get(request.args.get("done", ""))
    return template.format(n=request.args.get("n", "0")) if template else None


def overview_chart(console: Console, now: float) -> chart.Chart:
    last = int(now // 60)
    first = last - 24 * 60 + 1
    engine = console.store.engine
    return chart.build(first, 24 * 60, {
        ("events received", "received"): activity.received_per_minute(engine, first, last),
        ("values and track events delivered to Pendo", "delivered"): activity.delivered_per_minute(engine, first, last),
    })


def event_filter() -> events.EventFilter:
    args = request.args
    return events.EventFilter(
        provider=args.get("provider", "").strip(), type=args.get("type", "").strip(),
        status=args.get("status", "").strip(), customer=args.get("customer", "").strip(),
        account=args.get("account", "").strip(), since=parse_time(args.get("since")),
        until=parse_time(args.get("until")))


def register(blueprint: Blueprint, console: Console) -> None:
    engine = console.store.engine

    @blueprint.errorhandler(SQLAlchemyError)
    def database_down(_exc: SQLAlchemyError) -> tuple[str, int]:
        return refuse(503, "Database unavailable", "The database does not answer; try again shortly.")

    @blueprint.get("/")
    def overview() -> Page:
        now = console.clock()
        snapshot = metrics.collect(console.settings, console.store, now)
        return render_template("admin/overview.html", snapshot=snapshot, chart=overview_chart(console, now),
                               console=console, now=now)

    @blueprint.get("/events")
    def event_list() -> Page:
        wanted = request.args.get("event_id", "").strip()
        if wanted:
            return _jump_to_event(console, wanted, request.args.get("provider", "").strip())
        where = event_filter()
        found = events.page(engine, where, older_than=events.Cursor.decode(request.args.get("older")),
                            newer_than=events.Cursor.decode(request.args.get("newer")))
        query = {k: v for k, v in request.args.items() if k not in ("older", "newer") and v}
        return render_template("admin/events.html", page=found, where=where, query=query, statuses=STATUSES,
                               providers=console.providers, missing=request.args.get("missing"))

    @blueprint.get("/events/<provider>/<path:event_id>")
    def event_page(provider: str, event_id: str) -> Page:
        view = event.load(engine, provider, event_id, console.settings.redact_fields)
        if view is None and "/" in event_id:  # a named source's key has a slash: /events/<name>/<source>/<id>
            source, _, rest = event_id.partition("/")
            view = event.load(engine, f"{provider}/{source}", rest, console.settings.redact_fields)
        if view is None:
            return refuse(404, "No such event", f"No stored event {event_id} from {provider}.")
        return render_template("admin/event.html", view=view, done=done_message())

    @blueprint.get("/accounts")
    def account_lookup() -> BaseResponse:
        wanted = request.args.get("id", "").strip()
        if not wanted:
            return redirect(url_for("admin.overview"))
        then = "admin.replay_account" if request.args.get("then") == "replay" else "admin.account_page"
        return redirect(url_for(then, account_id=wanted))

    @blueprint.get("/accounts/<path:account_id>")
    def account_page(account_id: str) -> Page:
        view = account.load(engine, account_id)
        page = render_template("admin/account.html", view=view, done=done_message())
        return page if view.found else (page, 404)

    @blueprint.get("/failures")
    def failure_list() -> Page:
        return render_template("admin/failures.html", groups=failures.groups(engine), done=done_message())

    @blueprint.get("/mappings")
    def mapping_page() -> Page:
        return render_mappings(console)


def render_mappings(console: Console, **result: Any) -> str:
    view = mappings.load(console.settings, console.mappings, console.mapping_error, console.checks)
    args = request.args
    form = {"source": "stored", "provider": args.get("provider") or (console.providers or registry.PACKAGES)[0],
            "event_id": args.get("event_id", ""), "event": "", "customer": "", "event_provider": "",
            **result.pop("form", {})}
    form["event_provider"] = form["event_provider"] or (console.providers or registry.PACKAGES)[0]
    return render_template("admin/mappings.html", view=view, settings=console.settings, form=form,
                           providers=console.providers, event_providers=registry.PACKAGES, **result)


def _jump_to_event(console: Console, event_id: str, provider: str) -> BaseResponse:
    for name in [provider] if provider else list(console.providers):
        if events.find(console.store.engine, name, event_id) is not None:
            return redirect(url_for("admin.event_page", provider=name, event_id=event_id))
    return redirect(url_for("admin.event_list", missing=event_id))
