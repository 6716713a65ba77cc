"""Starting a diagnosis from the command line and waiting for it, Ctrl-C and SIGTERM included.

The engine runs on its own thread; the main thread waits here. A signal stops the run: what was
known is still reported (the verdict says the run was stopped), and a refresh grant already on
its way is let finish so a rotated refresh token is saved (further signals are only noted).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

from sage200_doctor.engine.results import Interruption

T = TypeVar("T", covariant=True)


def run_options(args: argparse.Namespace) -> Any:
    from sage200_doctor.engine.baseline import load_baseline
    from sage200_doctor.engine.run import RunOptions

    baseline = getattr(args, "baseline", None)
    rotated = getattr(args, "save_rotated", None)
    return RunOptions(
        only=tuple(check for group in (args.only or []) for check in group),
        baseline=load_baseline(Path(baseline)) if baseline else None,
        save_rotated=Path(rotated) if rotated else None,
    )


class Startable(Protocol[T]):
    """A diagnosis (one environment or a fleet) the main thread can start, wait for and stop."""

    @property
    def stopped(self) -> bool: ...

    def start(self) -> None: ...

    def wait(self) -> None: ...

    def interrupt(self, interruption: Interruption) -> None: ...

    def finish(self) -> T: ...


def wait_for(run: Startable[T]) -> T:
    """Start `run` and wait; Ctrl-C and SIGTERM stop it, and what was known is still reported."""
    from sage200_doctor.engine.signals import SigtermAsInterrupt, interruption_for

    keep_hypothesis_out_of_cwd()
    sigterm = SigtermAsInterrupt()
    sigterm.install()
    try:
        run.start()
        run.wait()
    except KeyboardInterrupt as stop:  # Terminated (SIGTERM) is one too
        run.interrupt(interruption_for(stop))
    finally:
        sigterm.restore()
    with _patient_while_saving(run):
        return run.finish()


@contextmanager
def _patient_while_saving(run: Startable[Any]) -> Iterator[None]:
    from sage200_doctor.engine.signals import signals_noted

    def note() -> None:
        print(
            "sage200-doctor: still saving the rotated refresh token; stopping right after.",
            file=sys.stderr,
        )

    if not run.stopped:
        yield
        return
    with signals_noted(note):
        yield


def keep_hypothesis_out_of_cwd() -> None:
    """The conformance search uses hypothesis, which caches what it computes (the Unicode
    table, the constants of our modules) under `.hypothesis/` in the current directory: a folder
    left behind in the user's project. Its caches go to our own cache directory instead, unless
    the user chose a place (HYPOTHESIS_STORAGE_DIRECTORY). An environment variable, not
    hypothesis's API: it is read on first use, and importing hypothesis here would slow every
    run that never needs it. Workers of a fleet run inherit it. A process that imported
    hypothesis before (a test suite calling `main`) keeps its own settings."""
    if "hypothesis" in sys.modules:
        return
    os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(user_cache_dir() / "hypothesis"))


def user_cache_dir() -> Path:
    """`$XDG_CACHE_HOME/sage200-doctor` (else `~/.cache/…`; `%LOCALAPPDATA%` on Windows)."""
    base = os.environ.get("XDG_CACHE_HOME") or (
        os.environ.get("LOCALAPPDATA") if sys.platform == "win32" else None
    )
    return Path(base or Path.home() / ".cache") / "sage200-doctor"
