"""`Secret`: a string that hides itself. Only the code that sends a value calls `reveal()`."""

from __future__ import annotations

import hmac
from typing import Final

_MASK: Final = "**********"


class Secret:
    """A secret string that hides itself: only `reveal()` gives the value back."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __str__(self) -> str:
        return _MASK

    def __repr__(self) -> str:
        return _MASK

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        # Constant time, so a comparison never becomes a timing oracle for the value.
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(self._value)
