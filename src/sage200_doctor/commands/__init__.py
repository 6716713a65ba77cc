"""The `sage200-doctor` command line: one module per command, and this table of them.

Each command module has `add_parser(commands)` (its options, with help) and `handle(args)`
(returns the exit code). Errors the user can fix (`DoctorError`: an unreadable file, a bad flag)
are printed as one line and end with their exit code here, in one place; so is Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
import types
from collections.abc import Sequence
from typing import Any, NoReturn


def _without_httpx_command_line() -> None:
    """`import httpx` imports httpx's own command line (`httpx._main`: click, rich, pygments;
    ~60 ms, a fifth of the time to the first request) whenever click and rich are installed, as
    they are here (rich for progress, click through uvicorn). This process never runs httpx's
    command line, so a stand-in keeps it off every start."""
    if "httpx" in sys.modules:
        return
    stand_in = types.ModuleType("httpx._main")

    def main(*_: object, **__: object) -> None:
        raise RuntimeError("httpx's command line is not loaded inside sage200-doctor")

    stand_in.main = main  # type: ignore[attr-defined]
    sys.modules.setdefault("httpx._main", stand_in)


_without_httpx_command_line()

from sage200_doctor import __version__  # noqa: E402
from sage200_doctor.errors import DoctorError, ExitCode  # noqa: E402

COMMANDS = (
    ("run", "run"),
    ("demo", "run"),
    ("triage", "triage"),
    ("emulate", "emulate"),
    ("checks", "catalog"),
    ("explain", "catalog"),
    ("login", "login"),
    ("rotation", "rotation"),
    ("diff", "diff"),
    ("postman", "postman"),
)
"""(command, module in sage200_doctor.commands), in the order `--help` lists them."""

RUN_EXIT_CODES = """\
exit codes (run, demo, triage, postman):
  0  every blocking check passed (warnings allowed)
  1  at least one blocking check failed: the environment has a problem
  2  the configuration is unusable (a config.* check failed)
  3  a host cannot be reached (a network.* check failed)
  4  usage error (bad flags, unreadable env file, a file that is not a HAR capture)
  5  a bug in sage200-doctor itself
  124, 130, 143  the run was stopped (a time limit, Ctrl-C, SIGTERM) before it finished
"""

EPILOG = f"""\
{RUN_EXIT_CODES}
examples:
  sage200-doctor demo --scenario key-invalid     try it on the built-in emulator
  sage200-doctor run --env site.env              diagnose a real site
  sage200-doctor triage failing-calls.har        diagnose a capture, no credentials needed
  sage200-doctor explain faq.errors.401          what a finding means and who fixes it

`sage200-doctor COMMAND --help` describes each command. Shell completion:
  eval "$(register-python-argcomplete sage200-doctor)"
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sage200-doctor",
        description="Tells you why a Sage 200 (UK) API set-up does not work, and who should fix it.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"sage200-doctor {__version__}",
        help="print the version and exit",
    )
    commands = parser.add_subparsers(
        title="commands", dest="command", required=True, metavar="COMMAND"
    )
    for name, module in COMMANDS:
        importlib.import_module(f"sage200_doctor.commands.{module}").add_parser(commands, name)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The command line (`argv` None: this process's own arguments, and the process ends
    here, without the interpreter's teardown); the exit code when given `argv`."""
    code = _dispatch(argv)
    if argv is None:
        exit_now(code)
    return code


def exit_now(code: int) -> NoReturn:
    """End the process once its output is flushed, skipping the interpreter's teardown
    (freeing every module and object: ~0.1-0.2 s after a run, for nothing). Every file the
    command wrote is closed by then; a rotated token is saved inside the run."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    if "coverage" in sys.modules:
        sys.exit(code)  # measured runs write their coverage data at exit
    os._exit(code)


def _dispatch(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    _complete(parser)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(ExitCode.USAGE) if exit_.code not in (0, None) else 0
    handler: Any = args.handler
    try:
        return int(handler(args))
    except DoctorError as error:
        print(f"sage200-doctor: {error}", file=sys.stderr)
        return int(error.exit_code)
    except KeyboardInterrupt:
        return int(ExitCode.INTERRUPTED)
    except BrokenPipeError:
        # `sage200-doctor … | head` closed the pipe: not an error worth a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _complete(parser: argparse.ArgumentParser) -> None:
    """Shell completion (argcomplete), when the shell asks for it; nothing otherwise."""
    if "_ARGCOMPLETE" not in os.environ:
        return
    try:
        import argcomplete
    except ImportError:  # pragma: no cover - argcomplete is a dependency
        return
    argcomplete.autocomplete(parser)
