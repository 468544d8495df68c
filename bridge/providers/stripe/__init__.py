"""Stripe: signature verification and parsing, API-version adapters, billing semantics, its API client."""
