"""Imports: account and visitor attributes from a file or your own database into the metadata outbox."""
