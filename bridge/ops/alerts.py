"""Alerts that reach people on a PaaS: a structured ERROR line, and optionally a Slack-compatible webhook.

Every alert is one ERROR log line carrying `alert=<condition>`, so a log-drain rule can page on it. The
webhook (`ALERT_WEBHOOK_URL`, JSON `{"text": ...}`) is rate-limited in the database across every process: at
most one message per condition per `BRIDGE_ALERT_EVERY_SECONDS` (600 s) and at most `GLOBAL_CAP` messages per
hour in all, so an outage sends a handful of messages, not thousands. Posting never raises, and neither the
URL (a secret) nor the error text that may contain it is ever logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import requests
from sqlalchemy import Engine, and_, case, or_, select, update

from bridge.settings import Settings
from bridge.store.schema import alert_log
from bridge.store.store import insert_for

log = logging.getLogger("bridge.alerts")

GLOBAL = "__all__"
GLOBAL_CAP = 12  # webhook messages per hour, all conditions together
GLOBAL_PERIOD = 3600.0
POST_TIMEOUT = 3.0

# Conditions.
PERMANENT_FAILURE = "permanent_failure"
AUTH_FAULT = "auth_fault"
CONFIG_FAULT = "config_fault"
LAG = "lag"
NEWER_API_VERSION = "newer_api_version"  # a provider sends an API version newer than bridge knows


class Alerts:
    """Raises alerts: always the ERROR line, the webhook when configured and not rate-limited."""

    def __init__(self, settings: Settings, engine: Engine, clock: Callable[[], float],
                 session: requests.Session | None = None):
        self.url = settings.alert_webhook_url
        self.every = settings.alert_every_seconds
        self.engine = engine
        self.clock = clock
        self.session = session or requests.Session()

    def fire(self, condition: str, message: str, **fields: Any) -> bool:
        """Log `message` at ERROR as alert `condition`; post it when allowed. True if a message was posted."""
        log.error(message, extra={"alert": condition, **fields})
        return self.notify(condition, message, **fields)

    def notify(self, condition: str, message: str, **fields: Any) -> bool:
        """Post to the webhook (no log line) when configured and the rate limits allow; never raises."""
        if not self.url:
            return False
        try:
            suppressed = self._take(condition, self.clock())
        except Exception:  # the database is having a bad minute: delivery must go on
            log.warning("alert rate limit unavailable; alert not posted", extra={"alert": condition})
            return False
        if suppressed is None:
            return False
        return self._post(condition, _text(condition, message, fields, suppressed))

    def _take(self, condition: str, now: float) -> int | None:
        """Claim the right to post for `condition`: the number of alerts suppressed since, or None."""
        c = alert_log.c
        with self.engine.begin() as connection:
            for name in (condition, GLOBAL):
                statement = insert_for(connection, alert_log).values(condition=name, last_sent_at=-1e12,
                                                                     suppressed=0, total=0)
                connection.execute(statement.on_conflict_do_nothing(index_elements=["condition"]))
            due = connection.execute(update(alert_log).where(
                c.condition == condition, c.last_sent_at <= now - self.every).values(last_sent_at=now)).rowcount
            if not due:
                connection.execute(update(alert_log).where(c.condition == condition)
                                   .values(suppressed=c.suppressed + 1))
                return None
            fresh = c.last_sent_at <= now - GLOBAL_PERIOD
            room = connection.execute(update(alert_log).where(
                c.condition == GLOBAL, or_(fresh, and_(~fresh, c.total < GLOBAL_CAP))).values(
                total=case((fresh, 1), else_=c.total + 1),
                last_sent_at=case((fresh, now), else_=c.last_sent_at))).rowcount
            if not room:
                connection.execute(update(alert_log).where(c.condition == condition)
                                   .values(suppressed=c.suppressed + 1, last_sent_at=now - self.every))
                return None
            suppressed = connection.execute(select(c.suppressed).where(c.condition == condition)).scalar_one()
            connection.execute(update(alert_log).where(c.condition == condition)
                               .values(suppressed=0, total=c.total + 1))
            return int(suppressed)

    def _post(self, condition: str, text: str) -> bool:
        try:
            response = self.session.post(self.url or "", json={"text": text}, timeout=POST_TIMEOUT)
        except requests.RequestException as exc:
            # The exception's text names the URL, which is a secret: log only its type.
            log.warning("the alert webhook could not be reached", extra={"alert": condition,
                                                                          "error": type(exc).__name__})
            return False
        if not 200 <= response.status_code < 300:
            log.warning("the alert webhook refused an alert", extra={"alert": condition,
                                                                      "status": response.status_code})
            return False
        return True


def _text(condition: str, message: str, fields: dict[str, Any], suppressed: int) -> str:
    details = ", ".join(f"{k}={v}" for k, v in sorted(fields.items()) if v is not None)
    text = f"bridge {condition}: {message}" + (f" ({details})" if details else "")
    if suppressed:
        text += f" [{suppressed} similar alerts not posted in the last period]"
    return text
