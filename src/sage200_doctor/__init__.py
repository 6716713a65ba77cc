"""sage200-doctor: ordered diagnostics for Sage 200 (UK) API set-ups."""

__version__ = "0.1.0"
