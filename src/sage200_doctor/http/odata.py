"""OData literals as the Sage 200 API expects them (client side; the emulator has its own)."""

from __future__ import annotations


def quote_string(value: str) -> str:
    """A single-quoted OData string literal: an apostrophe inside is doubled (O'Brien -> 'O''Brien')."""
    return "'" + value.replace("'", "''") + "'"


def equals(field: str, value: str) -> str:
    return f"{field} eq {quote_string(value)}"
