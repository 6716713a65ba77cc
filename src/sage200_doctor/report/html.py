"""pytest-html integration (filled in by the reports work)."""

from __future__ import annotations

from typing import Any


class HtmlHooks:
    def __init__(self, run: Any) -> None:
        self.run = run
