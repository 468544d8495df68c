"""The web process: the Flask app, group-committed ingest, and triage of verified events."""

from bridge.web.app import create_app

__all__ = ["create_app"]
