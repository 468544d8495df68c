"""Filling the store from a provider's API: the initial sync, catch-up after an outage, the scheduled reconcile."""
