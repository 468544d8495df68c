"""Stripe: signature verification and parsing, API-version adapters, billing semantics, its API client."""

from bridge.providers.stripe.facts import facts, subscription

__all__ = ["facts", "subscription"]
