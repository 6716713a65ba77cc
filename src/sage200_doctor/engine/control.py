"""Stopping a run cleanly: one switch the whole run watches, and the one thing that must finish.

A run is stopped by Ctrl-C, SIGTERM or a time limit from another thread (the one that waits for
results: the command line or pytest). From then on the engine starts no new check and no new
request, sleeps end at once, and requests in flight are cut off. The exception is a critical
section: once the refresh grant is on its way, its answer may carry a rotated refresh token that
is the user's only working credential, so the grant's answer is awaited and saved before the run
ends (CONTRACT §7).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sage200_doctor.engine.results import Interruption


class RunInterrupted(BaseException):
    """Raised inside the run when it has been stopped. A BaseException, so that no check's
    `except Exception` swallows it."""


class RunControl:
    """The stop switch of one run, shared by the engine, its session and whoever waits."""

    def __init__(self) -> None:
        self._stopped = threading.Event()
        self._lock = threading.Condition()
        self._critical = 0
        self._abort_hooks: list[Callable[[], None]] = []
        self.interruption: Interruption | None = None

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    def interrupt(self, interruption: Interruption) -> bool:
        """Stop the run (the first reason wins). False when it was already stopped."""
        with self._lock:
            if self.interruption is not None:
                return False
            self.interruption = interruption
            self._stopped.set()
            hooks = list(self._abort_hooks)
        for hook in hooks:
            hook()
        return True

    def on_interrupt(self, hook: Callable[[], None]) -> None:
        """Call `hook` when the run is stopped (at once if it already is)."""
        with self._lock:
            self._abort_hooks.append(hook)
            stopped = self.stopped
        if stopped:
            hook()

    def raise_if_stopped(self) -> None:
        if self.stopped and not self.in_critical:
            raise RunInterrupted

    def sleep(self, seconds: float) -> None:
        """Wait `seconds`, or less if the run is stopped meanwhile (then RunInterrupted)."""
        if self._stopped.wait(max(0.0, seconds)) and not self.in_critical:
            raise RunInterrupted

    @property
    def in_critical(self) -> bool:
        with self._lock:
            return self._critical > 0

    @contextmanager
    def critical(self) -> Iterator[None]:
        """A stretch the run finishes even when stopped (the refresh grant and its write-back)."""
        with self._lock:
            self._critical += 1
        try:
            yield
        finally:
            with self._lock:
                self._critical -= 1
                self._lock.notify_all()

    def wait_for_critical(self, timeout_s: float) -> bool:
        """Wait until no critical stretch is under way; False if `timeout_s` ran out first."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while self._critical > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(min(left, 0.1))
        return True
