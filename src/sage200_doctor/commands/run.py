"""`sage200-doctor run` and `demo`: diagnose an environment (or the built-in emulator).

The engine runs the checks on its own thread; this, the main thread, shows progress, waits, and
turns Ctrl-C or SIGTERM into a clean stop: reports are still written (saying the run was
stopped), a rotated refresh token already on its way is saved first, and the exit code is 130 or
143. The same `diagnose` serves the rotation gate and `demo`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sage200_doctor.commands import RUN_EXIT_CODES
from sage200_doctor.commands.options import (
    add_chaos_options,
    add_latency_option,
    add_report_options,
    add_scenario_options,
    write_env_file,
)
from sage200_doctor.commands.waiting import run_options, wait_for
from sage200_doctor.engine.results import RunResult

DEFAULT_ENV = Path(".env")


def add_parser(commands: Any, name: str) -> None:
    if name == "run":
        _add_run(commands)
    else:
        _add_demo(commands)


def _add_run(commands: Any) -> None:
    parser = commands.add_parser(
        "run",
        help="diagnose the configured environment",
        description="Run the ordered diagnostics against the environment your settings name: "
        "an env file (--env, else ./.env), overridden by SAGE200_* environment variables. "
        "Stops at the root cause, names who usually fixes it, and writes report.html, "
        "report.json and junit.xml to --report-dir.",
        epilog=RUN_EXIT_CODES
        + """
examples:
  sage200-doctor run --env site.env             the full diagnosis of one site
  sage200-doctor run -q                         two lines: the verdict and the root cause
  sage200-doctor run --only token.refresh       one check and what it needs
  sage200-doctor run --format json > out.json   report.json on stdout, the summary on stderr
  sage200-doctor run --fleet fleet.toml         every environment of a fleet file (docs/ci.md)
""",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--env",
        metavar="FILE",
        help="the env file of settings (default: ./.env if there is one; the keys are in "
        "config.example.env and docs/configuration.md)",
    )
    parser.add_argument(
        "--save-rotated",
        metavar="FILE",
        help="where to save a refresh token that Sage ID rotated during the run, when it came "
        "from an environment variable (one from an env file is written back to that file)",
    )
    parser.add_argument(
        "--fleet",
        metavar="FILE.toml",
        help="diagnose every environment of this TOML fleet file, one merged report "
        "(format: docs/ci.md)",
    )
    parser.add_argument(
        "-n",
        "--workers",
        type=int,
        metavar="N",
        help="with --fleet: environments diagnosed at once (default: 16 per process; a big "
        "fleet uses a process per CPU)",
    )
    add_report_options(parser)
    parser.set_defaults(handler=handle_run)


def _add_demo(commands: Any) -> None:
    parser = commands.add_parser(
        "demo",
        help="the same run against the built-in emulator (no credentials needed)",
        description="Serve the emulator on 127.0.0.1 and diagnose it, exactly as `run` "
        "diagnoses a real site. --scenario injects a known fault (see --list); combine faults "
        "with '+', e.g. no-space-bearer+customers-forbidden.",
        epilog=RUN_EXIT_CODES
        + """
examples:
  sage200-doctor demo                                   a healthy site: PASS
  sage200-doctor demo --list                            every scenario, one line each
  sage200-doctor demo --scenario no-offline-access -q   a known fault, in two lines
""",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_scenario_options(parser)
    add_latency_option(parser)
    add_chaos_options(parser)
    add_report_options(parser)
    parser.set_defaults(handler=handle_demo)


# --- commands -----------------------------------------------------------------------------------


def handle_run(args: argparse.Namespace) -> int:
    if args.fleet:
        from sage200_doctor.commands.fleet import run_fleet

        return run_fleet(args)
    from sage200_doctor.config.settings import load_settings

    env_file = Path(args.env) if args.env else None
    if env_file is None and not DEFAULT_ENV.is_file() and not args.quiet:
        print(
            f"sage200-doctor: no .env in {Path.cwd()}; using settings from the environment "
            "only (--env FILE names a file).",
            file=sys.stderr,
        )
    loaded = load_settings(env_file)
    return diagnose(loaded, args).exit_code


def handle_demo(args: argparse.Namespace) -> int:
    if args.list:
        from sage200_doctor.commands.emulate import print_scenarios

        return print_scenarios()
    from sage200_doctor.config.settings import load_settings
    from sage200_doctor.emulator import running_emulator, scenario_config
    from sage200_doctor.emulator.config import with_chaos

    config = with_chaos(scenario_config(args.scenario), args.chaos, args.chaos_rate)
    with (
        running_emulator(config, latency_ms=args.latency_ms) as emulator,
        tempfile.TemporaryDirectory(prefix="sage200-demo-") as workdir,
    ):
        env_file = write_env_file(Path(workdir) / "demo.env", emulator.env())
        if not args.quiet and args.format == "text":
            chaos = f", chaos seed {args.chaos}" if args.chaos is not None else ""
            print(
                f"Demo: scenario '{args.scenario}' on the built-in emulator at "
                f"{emulator.base_url}{chaos}\n",
                file=sys.stderr,
            )
        result = diagnose(load_settings(env_file, environ={}), args)
    return result.exit_code


# --- one diagnosis, start to finish -------------------------------------------------------------


@dataclass(frozen=True)
class Presentation:
    """How the outcome is shown: where reports go, what the terminal gets."""

    report_dir: Path
    quiet: bool = False
    verbose: bool = False
    format: str = "text"
    bundle: Path | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Presentation:
        return cls(
            report_dir=Path(args.report_dir),
            quiet=bool(args.quiet),
            verbose=bool(getattr(args, "verbose", False)),
            format=getattr(args, "format", "text"),
            bundle=Path(args.bundle) if getattr(args, "bundle", None) else None,
        )


def diagnose(loaded: Any, args: argparse.Namespace) -> RunResult:
    """Run the engine on these settings, write every report, print the verdict."""
    from sage200_doctor.engine.run import DiagnosticRun
    from sage200_doctor.report.progress import Progress

    show = Presentation.from_args(args)
    options = run_options(args)
    progress = Progress(loaded.settings.redactor(), quiet=show.quiet or show.format != "text")
    run = DiagnosticRun(loaded, options, observer=progress)
    result = wait_for(run)
    progress.close()
    present(result, run.redactor, show, listed=progress.listed)
    return result


def present(result: RunResult, redactor: Any, show: Presentation, *, listed: bool) -> None:
    from sage200_doctor.report.files import write_run_reports
    from sage200_doctor.report.terminal import render_summary, supports_color

    write_run_reports(result, show.report_dir, redactor)
    if show.bundle is not None:
        from sage200_doctor.report.bundle import write_bundle

        write_bundle(show.bundle, show.report_dir, result, redactor)
    machine = show.format != "text"
    if machine:
        name = "report.json" if show.format == "json" else "junit.xml"
        sys.stdout.write((show.report_dir / name).read_text(encoding="utf-8"))
        sys.stdout.flush()
    stream = sys.stderr if machine else sys.stdout
    if machine and show.quiet:
        return
    text = render_summary(
        result,
        color=supports_color(stream),
        quiet=show.quiet,
        verbose=show.verbose,
        listed=listed,
    )
    print(redactor.safe_text(text), file=stream)
    if not show.quiet:
        extra = f", support bundle {show.bundle}" if show.bundle else ""
        print(
            f"\nReports: {show.report_dir / 'report.html'}, report.json, junit.xml{extra}",
            file=stream,
        )
    stream.flush()
