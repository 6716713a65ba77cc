"""What the run is doing while it runs, on stderr (stdout stays for the verdict and --format).

On a terminal: one live line (rich) saying which check is running, for how long, and what it is
waiting for ("rate limited, retrying in 5 s"); each finished check is printed above it. In CI
(no terminal, or CI=true): one plain line per finished check, and one per wait. With -q:
nothing.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any, TextIO

from sage200_doctor.engine.events import CheckFinished, CheckStarted, RunEvent, Waiting
from sage200_doctor.engine.results import CheckResult, Outcome
from sage200_doctor.redact import Redactor, neutralise_controls
from sage200_doctor.report.terminal import MARKS, no_color_requested


def is_live(stream: TextIO) -> bool:
    """A person watching a terminal (not CI, not a pipe)."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and os.environ.get("TERM") != "dumb"


class _Elapsed:
    """The live line's text, with the time so far worked out each time rich redraws it."""

    def __init__(self, label: str, since: float, waiting: str) -> None:
        self.label, self.since, self.waiting = label, since, waiting

    def __rich__(self) -> str:
        waiting = f" · {self.waiting}" if self.waiting else ""
        return f"{self.label} ({time.monotonic() - self.since:.1f} s{waiting})"


def _seconds(value: float) -> str:
    """`3 s`, or `0.5 s` under a second (a wait is never shown as `0 s`)."""
    return f"{value:.0f} s" if value >= 1 else f"{value:.1f} s"


class Progress:
    """An observer of one run (`DiagnosticRun(observer=...)`), called from its thread."""

    def __init__(self, redactor: Redactor, *, stream: TextIO | None = None, quiet: bool = False):
        self.stream = stream or sys.stderr
        self.redactor = redactor
        self.quiet = quiet
        self.live = not quiet and is_live(self.stream)
        self.listed = False
        """True once a line per finished check was printed (the summary need not repeat it)."""
        self._lock = threading.Lock()
        self._status: Any = None
        self._running: tuple[str, str, float] | None = None
        self._waiting = ""

    def __call__(self, event: RunEvent) -> None:
        if self.quiet:
            return
        with self._lock:
            if isinstance(event, CheckStarted):
                self._running = (event.check_id, event.title, time.monotonic())
                self._waiting = ""
            elif isinstance(event, Waiting):
                self._waiting = f"rate limited, retrying in {_seconds(event.seconds)}"
                if not self.live:
                    self._note(self._waiting)
            elif isinstance(event, CheckFinished):
                self._finished(event.result)
            self._refresh()

    def _finished(self, result: CheckResult) -> None:
        self._running = None
        line = self._line(result)
        if self.live:
            self._console().print(line, markup=False, highlight=False)
        else:
            self.stream.write(line + "\n")
            self.stream.flush()
        self.listed = True

    def _note(self, text: str) -> None:
        """A line for CI logs while a check waits, so a pause in the log is explained."""
        check_id = self._running[0] if self._running else ""
        self.stream.write(f"  {'wait':<7} {check_id:<28} {text}\n")
        self.stream.flush()

    def _line(self, result: CheckResult) -> str:
        symbol, word, _ = MARKS[result.outcome]
        mark = symbol if self.live and not no_color_requested() else f"{word:<7}"
        text = (
            f"blocked by {result.blocked_by}"
            if result.outcome is Outcome.BLOCKED
            else result.summary
        )
        text = neutralise_controls(self.redactor.safe_text(text))
        return f"  {mark} {result.id:<28} {text} ({result.duration_ms:.0f} ms)"

    def _refresh(self) -> None:
        if not self.live:
            return
        if self._running is None:
            if self._status is not None:
                self._status.stop()
                self._status = None
            return
        check_id, title, since = self._running
        text = _Elapsed(f"{check_id}: {title}", since, self._waiting)
        if self._status is None:
            self._status = self._console().status(text, spinner="dots")
            self._status.start()
        else:
            self._status.update(text)

    def _console(self) -> Any:
        from rich.console import Console

        if not hasattr(self, "_rich"):
            self._rich = Console(file=self.stream, no_color=no_color_requested(), highlight=False)
        return self._rich

    def close(self) -> None:
        with self._lock:
            self._running = None
            self._refresh()
