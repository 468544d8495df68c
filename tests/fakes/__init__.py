"""Fakes of the services the bridge talks to."""
