"""Logging set-up: one JSON object per line (for PaaS log drains) or plain text for a terminal."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}
_bound: ContextVar[dict[str, Any]] = ContextVar("bridge_log_fields", default={})  # noqa: B039 (never mutated)


@contextmanager
def bound(**fields: Any) -> Iterator[None]:
    """Add `fields` (e.g. event_id, request_id) to every line logged in this context; None values are left out."""
    token = _bound.set({**_bound.get(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _bound.reset(token)


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    """The bound fields, then the record's own `extra` fields (which win); formatting runs in the caller's thread."""
    return {**_bound.get(), **{k: v for k, v in vars(record).items() if k not in _RESERVED}}


class JsonFormatter(logging.Formatter):
    """Render a record and its `extra` fields as one JSON line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(_fields(record))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class TextFormatter(logging.Formatter):
    """A readable line with the `extra` fields appended as key=value."""

    def format(self, record: logging.LogRecord) -> str:
        extras = " ".join(f"{k}={v}" for k, v in _fields(record).items())
        base = f"{self.formatTime(record, '%H:%M:%S')} {record.levelname:<7} {record.getMessage()}"
        text = f"{base} {extras}".rstrip()
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def configure(log_format: str = "json", level: int = logging.INFO) -> None:
    """Send the package's logs to stderr in the chosen format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Neither format shows where a line was logged from: not looked up, a record costs a fifth less (the logging
    # HOWTO's "Optimization"); a webhook logs one line. (The thread and process ids stay: gunicorn's lines show them.)
    logging._srcfile = None
    from bridge.providers import registry

    for noisy in ("urllib3", "alembic", *registry.loggers()):
        logging.getLogger(noisy).setLevel(logging.WARNING)
