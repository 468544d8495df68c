"""The views that change something (each a POSTed form with its CSRF token, the bigger ones after a confirmation
page), and the mapping dry run, which posts pasted JSON but changes nothing. Every change is logged."""

from __future__ import annotations

import logging

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from bridge.web.admin import failures, mappings
from bridge.web.admin.auth import refuse, safe_next
from bridge.web.admin.console import Console
from bridge.web.admin.pages import Page, render_mappings
from bridge.worker.replay import ReplayFilter, ReplayReport, replay

log = logging.getLogger("bridge.admin")


def _group_args() -> tuple[str, str, str]:
    values = request.form if request.method == "POST" else request.args
    return values.get("source", ""), values.get("state", ""), values.get("reason", "")


def _account_replay(console: Console, account_id: str, dry_run: bool) -> ReplayReport | None:
    """Replay every stored event of the account's customers (and its own) under the loaded mappings."""
    from bridge.web.admin.account import load

    view = load(console.store.engine, account_id)
    if console.mappings is None or not view.events:  # an empty selection would replay every stored event
        return None
    selection = ReplayFilter(event_ids=tuple(row["event_id"] for row in view.events))
    return replay(console.store, console.mappings, console.settings, selection, now=console.clock(), dry_run=dry_run)


def register(blueprint: Blueprint, console: Console) -> None:
    engine = console.store.engine

    @blueprint.route("/failures/retry", methods=["GET", "POST"])
    def retry_group() -> Page:
        source, state, reason = _group_args()
        if source not in failures.SOURCES:
            return refuse(400, "Unknown group", "Choose a group on the Failures page.")
        if request.method == "GET":
            count = failures.count_group(engine, source, state, reason)
            label = failures.Group(source, state, reason, count, 0.0).label
            return render_template("admin/confirm_retry.html", source=source, state=state, reason=reason,
                                   label=label, count=count)
        count = failures.retry_group(engine, source, state, reason, console.clock())
        log.info("admin retry of a failure group", extra={"source": source, "state": state, "rows": count})
        return redirect(url_for("admin.failure_list", done="retried", n=count))

    @blueprint.post("/failures/retry-one")
    def retry_one() -> Page:
        source = request.form.get("source", "")
        if source not in failures.SOURCES:
            return refuse(400, "Unknown row", "Choose a row on the Failures or Event page.")
        key = {name: request.form.get(name, "") for name in ("kind", "entity_id", "field", "id")}
        count = failures.retry_one(engine, source, key, console.clock())
        log.info("admin retry of one row", extra={"source": source, "rows": count})
        back = safe_next(request.form.get("back")) or url_for("admin.failure_list")
        return redirect(f"{back}{'&' if '?' in back else '?'}done=retried&n={count}")

    @blueprint.route("/accounts/<path:account_id>/replay", methods=["GET", "POST"])
    def replay_account(account_id: str) -> Page | BaseResponse:
        report = _account_replay(console, account_id, dry_run=request.method == "GET")
        if report is None:
            return refuse(409, "Nothing to replay", "Replay needs the account's stored events and loaded mappings "
                          "(see the Mappings page).")
        if request.method == "GET":
            return render_template("admin/confirm_replay.html", account_id=account_id, report=report)
        log.info("admin replay of an account", extra={"account_id": account_id, "changes": len(report.changes)})
        return redirect(url_for("admin.account_page", account_id=account_id, done="replayed", n=len(report.changes)))

    @blueprint.get("/mappings/try")
    def try_again() -> BaseResponse:
        """A reloaded or bookmarked result: the form is on the Mappings page."""
        return redirect(url_for("admin.mapping_page") + "#try")

    @blueprint.post("/mappings/try")
    def try_mapping() -> Page:
        form = {name: request.form.get(name, "") for name in ("source", "provider", "event_id", "event", "customer",
                                                              "event_provider")}
        if console.mappings is None:
            return render_mappings(console, form=form, error="The service has no mappings loaded.")
        try:
            if form["source"] == "stored":
                found, enrichment = mappings.stored_event(console.store, form["provider"], form["event_id"].strip())
            else:
                found, enrichment = mappings.pasted_event(form["event"], form["customer"],
                                                          form["event_provider"] or None)
        except mappings.TryError as exc:
            return render_mappings(console, form=form, error=str(exc)), 400
        run = mappings.try_event(console.settings, console.mappings, found, enrichment, int(console.clock() * 1000))
        return render_mappings(console, form=form, run=run)
