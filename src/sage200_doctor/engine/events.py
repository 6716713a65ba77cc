"""What a run tells an observer while it runs (the progress display): plain data, no behaviour."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sage200_doctor.engine.results import CheckResult


@dataclass(frozen=True)
class CheckStarted:
    check_id: str
    title: str


@dataclass(frozen=True)
class CheckFinished:
    result: CheckResult


@dataclass(frozen=True)
class Waiting:
    """The run waits before retrying (a 429's Retry-After)."""

    seconds: float


RunEvent = CheckStarted | CheckFinished | Waiting
Observer = Callable[[RunEvent], None]
