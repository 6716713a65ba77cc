"""Every exit code sage200-doctor uses, once, and the errors that refuse to start a run.

A run's own outcome (pass, a finding, config, unreachable, interrupted) is decided by the engine
from its checks; the errors here are about the request itself: a flag, an input file or a
setting that cannot be used as given. Each of them is shown as one sentence, never a traceback,
and ends the command with its `exit_code` (the command line catches `DoctorError` in one place).
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["DoctorError", "ExitCode", "UsageError"]


class ExitCode(IntEnum):
    """The exit codes of every command (CONTRACT §3, plus the interruption codes)."""

    PASS = 0
    FINDING = 1
    """At least one blocking check failed: the environment has a problem."""
    CONFIG = 2
    UNREACHABLE = 3
    USAGE = 4
    INTERNAL = 5
    """A bug in sage200-doctor itself."""
    TIMED_OUT = 124
    """A time limit (pytest-timeout's per-test timeout) ended the run (GNU timeout's code)."""
    INTERRUPTED = 130
    """SIGINT (Ctrl-C): 128 + 2, as shells report it."""
    TERMINATED = 143
    """SIGTERM: 128 + 15."""


class DoctorError(Exception):
    """Base of the errors sage200-doctor raises on purpose: `str()` is the whole message."""

    exit_code: ExitCode = ExitCode.INTERNAL


class UsageError(DoctorError):
    """The command cannot run as asked: a bad flag, or an input file that cannot be read or
    used (env file, baseline, fleet file, report, capture, Postman export). Exit 4."""

    exit_code = ExitCode.USAGE
