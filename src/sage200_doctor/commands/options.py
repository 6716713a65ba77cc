"""Options several commands share, and small helpers for their values."""

from __future__ import annotations

import argparse
import difflib
import os
from collections.abc import Callable, Iterable
from pathlib import Path


def add_report_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--report-dir",
        default="reports",
        metavar="DIR",
        help="where report.html, report.json and junit.xml go (default: reports/)",
    )
    only = parser.add_argument(
        "--only",
        action="append",
        nargs="+",
        metavar="ID",
        help="run only these checks and what they need (ids from `sage200-doctor checks`)",
    )
    complete_with(only, check_ids)
    output = parser.add_mutually_exclusive_group()
    output.add_argument(
        "-q", "--quiet", action="store_true", help="print only the verdict and the root cause"
    )
    output.add_argument(
        "-v", "--verbose", action="store_true", help="also print each check's requests"
    )
    parser.add_argument(
        "--format",
        choices=("text", "json", "junit"),
        default="text",
        help="what goes to stdout: text (the summary; default), json (exactly report.json) or "
        "junit (exactly junit.xml); with json or junit the summary goes to stderr",
    )
    parser.add_argument(
        "--bundle",
        metavar="FILE.zip",
        help="also write a support bundle: the reports and a fingerprint, secrets masked",
    )
    parser.add_argument(
        "--baseline",
        metavar="FILE.toml",
        help="accepted findings: they do not fail the run until they expire (docs/ci.md)",
    )


def _chaos_rate(text: str) -> float:
    try:
        rate = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= rate <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 1")
    return rate


def add_scenario_options(parser: argparse.ArgumentParser) -> None:
    """--scenario and --list, as `demo` and `emulate` take them."""
    scenario = parser.add_argument(
        "--scenario",
        default="healthy",
        type=scenario_name,
        metavar="NAME",
        help="the fault to inject; join several with '+' (default: healthy; see --list)",
    )
    complete_with(scenario, scenario_names)
    parser.add_argument(
        "--list", action="store_true", help="list the scenarios with what each one does, and exit"
    )


def add_latency_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--latency-ms",
        type=int,
        default=0,
        metavar="MS",
        help="delay every answer by MS milliseconds, like a distant server (default: 0)",
    )


def add_chaos_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--chaos",
        type=int,
        metavar="SEED",
        help="answer requests with random faults, the same ones for the same seed "
        "(docs/hostile-world.md)",
    )
    parser.add_argument(
        "--chaos-rate",
        type=_chaos_rate,
        metavar="R",
        help="with --chaos: the share of requests that get a fault, 0 to 1 (default: 0.2)",
    )


def complete_with(action: argparse.Action, completer: Callable[..., Iterable[str]]) -> None:
    """What shell completion (argcomplete) offers for this option's value."""
    action.completer = completer  # type: ignore[attr-defined]  # argcomplete reads this attribute


def scenario_names(**_: object) -> list[str]:
    from sage200_doctor.emulator import SCENARIOS

    return list(SCENARIOS)


def check_ids(**_: object) -> list[str]:
    from sage200_doctor.engine.registry import all_checks

    return [spec.id for spec in all_checks()]


def scenario_name(text: str) -> str:
    """A scenario, or several joined with '+'; an unknown one is a usage error with a hint."""
    from sage200_doctor.emulator import SCENARIOS

    for part in text.split("+"):
        if part not in SCENARIOS:
            close = difflib.get_close_matches(part, list(SCENARIOS), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise argparse.ArgumentTypeError(
                f"unknown scenario {part!r}.{hint} See --list for every scenario."
            )
    return text


def write_env_file(path: Path, values: dict[str, str]) -> Path:
    """A private (0600) env file of `values`, for runs against the emulator."""
    from sage200_doctor.emulator import format_env_lines

    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
        stream.write(format_env_lines(values) + "\n")
    return path
