"""bridge: billing providers' webhooks in, Pendo account metadata and track events out."""

__version__ = "0.1.0"
