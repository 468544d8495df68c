"""Single-process mode: gunicorn serving the app with the worker loop on a thread of the same process."""

from __future__ import annotations

import threading
from typing import Any

from gunicorn.app.base import BaseApplication

from bridge.settings import Settings
from bridge.web.app import create_app
from bridge.worker.loop import Worker, build_worker


class _Application(BaseApplication):
    def __init__(self, settings: Settings, options: dict[str, Any]):
        self._settings, self._options = settings, options
        self._worker: Worker | None = None
        self._thread: threading.Thread | None = None
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)
        self.cfg.set("post_worker_init", self._start_worker)
        self.cfg.set("worker_exit", self._stop_worker)

    def load(self) -> Any:
        return create_app(self._settings)

    def _start_worker(self, _gunicorn_worker: Any) -> None:
        self._worker = build_worker(self._settings)
        self._thread = threading.Thread(target=self._worker.run, name="bridge-worker", daemon=True)
        self._thread.start()

    def _stop_worker(self, _server: Any, _gunicorn_worker: Any) -> None:
        if self._worker and self._thread:
            self._worker.stop.set()
            self._thread.join(timeout=20)


def serve(settings: Settings, bind: str | None = None, threads: int = 16) -> None:
    """Serve on `bind` (default 0.0.0.0:$PORT) with one gunicorn worker process."""
    options = {
        "bind": bind or f"0.0.0.0:{settings.port}",
        "workers": 1,
        "worker_class": "gthread",
        "threads": threads,
        "graceful_timeout": 25,
        "accesslog": None,
        "control_socket_disable": True,
    }
    _Application(settings, options).run()
