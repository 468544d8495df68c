"""Billing semantics shared by every provider: money, account roll-ups, lifecycle transitions."""
