"""The baseline for `bench/ingest.py`: a Flask app whose only view answers the webhook path with 200.

It reads the body, as the bridge does, so both pay for the upload; it verifies, parses and stores nothing.
Served by the Procfile's gunicorn line with only the app changed: `gunicorn ... 'bare_app:create_app()'`.
"""

from __future__ import annotations

from flask import Flask, Response, jsonify, request


def create_app() -> Flask:
    """The factory gunicorn serves, shaped like `bridge.web:create_app()`."""
    app = Flask("bare")

    @app.post("/webhooks/stripe")
    def webhook() -> tuple[Response, int]:
        request.get_data()
        return jsonify(received=True), 200

    return app
