"""Signals as interruptions: SIGTERM ends a run the way Ctrl-C does, in the waiting thread.

Python delivers signals to the main thread only, which is why the engine runs its checks on
another thread: the main thread waits, receives Ctrl-C (KeyboardInterrupt) or SIGTERM
(`Terminated`, raised by the handler installed here) and tells the engine to stop.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from sage200_doctor.engine.results import Interruption
from sage200_doctor.errors import ExitCode

SIGINT = Interruption("SIGINT (Ctrl-C)", ExitCode.INTERRUPTED)
SIGTERM = Interruption("SIGTERM", ExitCode.TERMINATED)
Handler = Callable[[int, FrameType | None], Any] | int | None


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so everything winds down as it does for Ctrl-C."""


def interruption_for(error: BaseException) -> Interruption:
    return SIGTERM if isinstance(error, Terminated) else SIGINT


def _raise_terminated(_signum: int, _frame: FrameType | None) -> None:
    raise Terminated


class SigtermAsInterrupt:
    """While installed, SIGTERM raises `Terminated` (only the main thread may install)."""

    def __init__(self) -> None:
        self._previous: Handler = None
        self._installed = False

    def install(self) -> None:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, _raise_terminated)
            self._installed = True

    def restore(self) -> None:
        if self._installed:
            signal.signal(signal.SIGTERM, self._previous)
            self._installed = False


@contextmanager
def signals_noted(note: Callable[[], None]) -> Iterator[None]:
    """While a stopped run saves a rotated refresh token, further Ctrl-C / SIGTERM only `note`:
    leaving now would lose the user's only working credential."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {
        number: signal.signal(number, lambda _s, _f: note())
        for number in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


class StopOnSignals:
    """While installed, the first SIGINT or SIGTERM tells the run to stop (`stop(interruption)`)
    instead of raising in whatever the main thread is doing: under pytest, a KeyboardInterrupt
    inside another plugin's hook is an INTERNALERROR. The run then winds down by itself,
    reports are written and the exit code says which signal. A second signal is obeyed at once
    (the default behaviour), for a user who really wants out."""

    def __init__(self, stop: Callable[[Interruption], None]) -> None:
        self._stop = stop
        self._previous: dict[int, Handler] = {}

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for number, interruption in ((signal.SIGINT, SIGINT), (signal.SIGTERM, SIGTERM)):
            self._previous[number] = signal.signal(number, self._handler(interruption))

    def _handler(self, interruption: Interruption) -> Callable[[int, FrameType | None], None]:
        def handle(number: int, _frame: FrameType | None) -> None:
            self.restore()  # the next one is obeyed as usual
            self._stop(interruption)

        return handle

    def restore(self) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous.clear()
