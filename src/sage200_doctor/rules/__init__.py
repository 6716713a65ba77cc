"""The rules that judge one exchange, shared by live checks, recorded captures and Postman exports.

A rule is a pure function over what was sent and what came back (never a network call). It
returns `Judgement`s: the live check that owns the finding, whether it blocks or advises, the
sentence a person reads and the guidance ids. Live checks raise them as findings; triage and the
Postman lint collect them per check id. One set of rules means a capture and a live run can never
disagree about what the same answer means.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Judgement"]


@dataclass(frozen=True)
class Judgement:
    """One finding a rule made. `check` is the live check id it belongs to."""

    check: str
    outcome: Literal["failed", "warning"]
    summary: str
    detail: str = ""
    guidance: tuple[str, ...] = ()
