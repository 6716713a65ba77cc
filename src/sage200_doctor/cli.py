"""The `sage200-doctor` command: run, demo, emulate, checks, explain, login.

`run` and `demo` drive pytest in-process with the plugin switched on, isolated from whatever
pytest configuration or tests lie in the current directory, and turn the run's verdict into the
contract's exit code.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sage200_doctor import __version__
from sage200_doctor.engine.results import EXIT_USAGE, RunResult

EXIT_INTERNAL = 5
CURL_RECIPE = r"""# Try it by hand (after `set -a; . FILE; set +a`):
#   TOKEN=$(curl -s -u "$SAGE200_CLIENT_ID:$SAGE200_CLIENT_SECRET" -d grant_type=refresh_token \
#     --data-urlencode "refresh_token=$SAGE200_REFRESH_TOKEN" "$SAGE200_TOKEN_URL" \
#     | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
#   curl -H "Authorization: Bearer $TOKEN" -H "ocp-apim-subscription-key: $SAGE200_SUBSCRIPTION_KEY" \
#     "${SAGE200_API_BASE_URL}sites"
#   curl -G -H "Authorization: Bearer $TOKEN" -H "ocp-apim-subscription-key: $SAGE200_SUBSCRIPTION_KEY" \
#     -H "X-Site: $SAGE200_SITE_ID" -H "X-Company: $SAGE200_COMPANY_ID" \
#     --data-urlencode "\$filter=reference eq 'A1D001'" "${SAGE200_API_BASE_URL}customers"
"""


class ResultSink:
    """Receives the run's result from the plugin before pytest tears the run down."""

    def __init__(self) -> None:
        self.result: RunResult | None = None
        self.redactor: Any = None

    def pytest_unconfigure(self, config: Any) -> None:
        from sage200_doctor.plugin import doctor_run

        run = doctor_run(config)
        if run is not None:
            self.result = run.result
            self.redactor = run.redactor


def _pytest_args(args: argparse.Namespace, env_file: Path | None, sandbox: Path) -> list[str]:
    report_dir = Path(args.report_dir)
    (sandbox / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    argv = [
        str(sandbox),
        "-c",
        str(sandbox / "pytest.ini"),
        "--rootdir",
        str(sandbox),
        "--confcutdir",
        str(sandbox),
        # Only the plugins a diagnosis needs: autoloading every pytest plugin installed on the
        # machine (hypothesis, schemathesis, coverage, …) would triple the time to a verdict.
        "--disable-plugin-autoload",
        *(
            "-p",
            "sage200_doctor.plugin",
            "-p",
            "pytest_metadata.plugin",
            "-p",
            "pytest_html.plugin",
        ),
        "-p",
        "no:cacheprovider",
        # Its clean-up runs a full garbage collection twice (~80 ms) to find exceptions raised
        # in __del__ by tests; a diagnosis runs no test code.
        "-p",
        "no:unraisableexception",
        "-q",
        "--no-header",
        "--tb=no",
        "-rN",
        "-o",
        "junit_family=xunit2",
        "-o",
        "console_output_style=classic",  # no "[100%]" progress line above the summary
        "-o",
        "junit_suite_name=sage200-doctor",
        "--junitxml",
        str(report_dir / "junit.xml"),
        "--html",
        str(report_dir / "report.html"),
        "--self-contained-html",
        "--sage200-json",
        str(report_dir / "report.json"),
        "--sage200-run",
    ]
    if env_file is not None:
        argv += ["--sage200-env", str(env_file)]
    for check_id in args.only or []:
        argv += ["--sage200-only", check_id]
    if getattr(args, "save_rotated", None):
        argv += ["--sage200-save-rotated", args.save_rotated]
    if args.quiet:
        argv.append("--sage200-quiet-summary")
    return argv


def _execute(args: argparse.Namespace, env_file: Path | None) -> int:
    import pytest

    extra: list[object] = []
    if getattr(args, "baseline", None):
        from sage200_doctor.engine.baseline import BaselineError, BaselineHook, load_baseline

        try:
            extra.append(BaselineHook(load_baseline(Path(args.baseline))))
        except BaselineError as error:
            print(f"sage200-doctor: {error}", file=sys.stderr)
            return EXIT_USAGE
    Path(args.report_dir).mkdir(parents=True, exist_ok=True)
    sink = ResultSink()
    with tempfile.TemporaryDirectory(prefix="sage200-doctor-") as sandbox:
        code = pytest.main(_pytest_args(args, env_file, Path(sandbox)), plugins=[sink, *extra])
    if sink.result is None:
        return EXIT_USAGE if code == pytest.ExitCode.USAGE_ERROR else EXIT_INTERNAL
    if getattr(args, "bundle", None):
        from sage200_doctor.report.bundle import write_bundle

        write_bundle(Path(args.bundle), Path(args.report_dir), sink.result, sink.redactor)
        print(f"Support bundle written to {args.bundle}")
    return sink.result.exit_code


def _check_env_file(env: str | None) -> Path | int | None:
    """The env file to use, or an exit code when it cannot be read (usage error)."""
    from sage200_doctor.config.settings import UsageError, load_settings

    path = Path(env) if env else (Path(".env") if Path(".env").is_file() else None)
    try:
        load_settings(path)
    except UsageError as error:
        print(f"sage200-doctor: {error}", file=sys.stderr)
        return EXIT_USAGE
    return path


def command_run(args: argparse.Namespace) -> int:
    if args.fleet:
        return command_fleet(args)
    checked = _check_env_file(args.env)
    if isinstance(checked, int):
        return checked
    return _execute(args, checked)


class FleetSink:
    """Receives the fleet's worst exit code before pytest tears the run down."""

    def __init__(self) -> None:
        self.exit_code: int | None = None

    def pytest_unconfigure(self, config: Any) -> None:
        from sage200_doctor.plugin import FLEET_PLUGIN

        hooks = config.pluginmanager.get_plugin(FLEET_PLUGIN)
        if hooks is not None:
            self.exit_code = hooks.exit_code


def command_fleet(args: argparse.Namespace) -> int:
    """`run --fleet FILE`: every environment of the file, in parallel with pytest-xdist."""
    import pytest

    from sage200_doctor.fleet import FleetError, load_fleet

    if args.env or args.bundle or args.baseline or args.save_rotated:
        print(
            "sage200-doctor: --fleet cannot be combined with --env, --bundle, --baseline "
            "or --save-rotated",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        environments = load_fleet(Path(args.fleet))
    except FleetError as error:
        print(f"sage200-doctor: {error.path}:", file=sys.stderr)
        for problem in error.problems:
            print(f"  - {problem}", file=sys.stderr)
        return EXIT_USAGE
    workers = (
        args.workers if args.workers is not None else min(len(environments), os.cpu_count() or 1)
    )
    Path(args.report_dir).mkdir(parents=True, exist_ok=True)
    sink = FleetSink()
    with tempfile.TemporaryDirectory(prefix="sage200-doctor-") as sandbox:
        argv = _pytest_args(args, None, Path(sandbox))
        argv += ["--sage200-fleet", str(Path(args.fleet).resolve())]
        if workers > 0:
            argv += ["-p", "xdist.plugin", "-n", str(workers), "--dist", "loadgroup"]
        code = pytest.main(argv, plugins=[sink])
    if sink.exit_code is None:
        return EXIT_USAGE if code == pytest.ExitCode.USAGE_ERROR else EXIT_INTERNAL
    print(f"\nReports: {Path(args.report_dir) / 'fleet.html'}, report.json, junit.xml")
    return sink.exit_code


def command_demo(args: argparse.Namespace) -> int:
    from sage200_doctor.emulator import (
        SCENARIOS,
        format_env_lines,
        running_emulator,
        scenario_config,
    )
    from sage200_doctor.emulator.faults import with_chaos

    if args.scenario not in SCENARIOS:
        return _unknown("scenario", args.scenario, list(SCENARIOS))
    config = with_chaos(scenario_config(args.scenario), args.chaos, args.chaos_rate)
    with (
        running_emulator(config, latency_ms=args.latency_ms) as emulator,
        tempfile.TemporaryDirectory(prefix="sage200-demo-") as workdir,
    ):
        env_file = Path(workdir) / "demo.env"
        descriptor = os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            stream.write(format_env_lines(emulator.env()) + "\n")
        print(
            f"Demo: scenario '{args.scenario}' ({SCENARIOS[args.scenario].description}) "
            f"on the embedded emulator at {emulator.base_url}"
            + (
                f", chaos seed {args.chaos} at rate {config.chaos_rate}"
                if args.chaos is not None
                else ""
            )
            + "\n"
        )
        code = _execute(args, env_file)
    print(f"\nReports: {Path(args.report_dir) / 'report.html'}, report.json, junit.xml")
    return code


def command_emulate(args: argparse.Namespace) -> int:
    from sage200_doctor.emulator import SCENARIOS, format_env_lines, scenario_config, serve_forever
    from sage200_doctor.emulator.faults import with_chaos

    if args.scenario not in SCENARIOS:
        return _unknown("scenario", args.scenario, list(SCENARIOS))

    def announce(emulator: Any) -> None:
        print(f"# sage200-doctor emulator, scenario '{args.scenario}', serving {emulator.base_url}")
        print("# Save these lines as an env file and run: sage200-doctor run --env FILE")
        if args.chaos is not None:
            print(f"# chaos: seed {args.chaos}, rate {emulator.config.chaos_rate}")
        print(format_env_lines(emulator.env()))
        print(CURL_RECIPE, flush=True)

    config = with_chaos(scenario_config(args.scenario), args.chaos, args.chaos_rate)
    config = dataclasses.replace(config, faults=tuple(args.fault or ()))
    serve_forever(
        config,
        host=args.host,
        port=args.port,
        latency_ms=args.latency_ms,
        on_ready=announce,
    )
    return 0


def command_checks(args: argparse.Namespace) -> int:
    from sage200_doctor.engine.registry import all_checks

    for spec in all_checks():
        needs = ", ".join(spec.depends) or "-"
        print(f"{spec.order:>4}  {spec.id:<28} {spec.title}")
        print(f"      verifies: {spec.verifies}")
        print(f"      needs:    {needs}")
    return 0


def command_explain(args: argparse.Namespace) -> int:
    from sage200_doctor.engine.registry import all_checks
    from sage200_doctor.guidance import GUIDANCE, guidance_for, render_text

    specs = {spec.id: spec for spec in all_checks()}
    if args.id in specs:
        spec = specs[args.id]
        print(f"{spec.id} ({spec.order}): {spec.title}\nVerifies: {spec.verifies}")
        print(f"Needs: {', '.join(spec.depends) or 'nothing'}\n")
        for guidance_id in spec.guidance:
            print(render_text(guidance_for(guidance_id)) + "\n")
        return 0
    if args.id in GUIDANCE:
        print(render_text(guidance_for(args.id)))
        return 0
    return _unknown("check or guidance id", args.id, [*specs, *GUIDANCE])


def command_login(args: argparse.Namespace) -> int:
    from sage200_doctor.login import DEFAULT_TIMEOUT_S, command

    return command(
        Path(args.env) if args.env else None,
        no_browser=args.no_browser,
        timeout_s=DEFAULT_TIMEOUT_S if args.timeout is None else args.timeout,
        port=args.port,
    )


def _unknown(what: str, value: str, known: list[str]) -> int:
    close = difflib.get_close_matches(value, known, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    print(
        f"sage200-doctor: unknown {what} {value!r}.{hint} Known: {', '.join(known)}",
        file=sys.stderr,
    )
    return EXIT_USAGE


def _chaos_rate(text: str) -> float:
    rate = float(text)
    if not 0.0 <= rate <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 1")
    return rate


def _fault_rule(text: str) -> Any:
    from sage200_doctor.emulator.faults import parse_fault_rule

    try:
        return parse_fault_rule(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _chaos_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--chaos",
        type=int,
        metavar="SEED",
        help="answer requests with random faults, reproducibly per seed (docs/hostile-world.md)",
    )
    parser.add_argument(
        "--chaos-rate",
        type=_chaos_rate,
        metavar="R",
        help="share of requests that get a fault in chaos mode (default 0.2)",
    )


def _report_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--report-dir", default="reports", help="where reports go (default: reports/)"
    )
    parser.add_argument(
        "--only", action="append", metavar="ID", help="run only this check and what it needs"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="short summary for CI logs")
    parser.add_argument("--bundle", metavar="FILE.zip", help="also write a redacted support bundle")
    parser.add_argument(
        "--baseline",
        metavar="FILE.toml",
        help="accepted findings: they do not fail the run until they expire (docs/ci.md)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sage200-doctor", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"sage200-doctor {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="diagnose the configured environment")
    run.add_argument("--env", metavar="FILE", help="env file (default: ./.env if present)")
    run.add_argument(
        "--save-rotated",
        metavar="FILE",
        help="where a rotated refresh token from the environment is saved",
    )
    run.add_argument("--fleet", metavar="FILE.toml", help="run every environment of this file")
    run.add_argument(
        "-n",
        "--workers",
        type=int,
        metavar="N",
        help="with --fleet: parallel workers (default: min(environments, CPUs); 0 = none)",
    )
    _report_options(run)
    run.set_defaults(handler=command_run)
    demo = commands.add_parser("demo", help="the same run against the embedded emulator")
    demo.add_argument(
        "--scenario", default="healthy", help="inject a known fault (see emulate --help)"
    )
    demo.add_argument("--latency-ms", type=int, default=0, help=argparse.SUPPRESS)
    _chaos_options(demo)
    _report_options(demo)
    demo.set_defaults(handler=command_demo)
    emulate = commands.add_parser("emulate", help="serve the Sage 200 emulator on loopback")
    emulate.add_argument("--scenario", default="healthy")
    emulate.add_argument("--host", default="127.0.0.1")
    emulate.add_argument("--port", type=int, default=8200)
    emulate.add_argument("--latency-ms", type=int, default=0)
    _chaos_options(emulate)
    emulate.add_argument(
        "--fault",
        action="append",
        type=_fault_rule,
        metavar="KIND[@FACE][:PATH]",
        help="answer matching requests with a fault, e.g. status-503@api:/sites$ (repeatable)",
    )
    emulate.set_defaults(handler=command_emulate)
    commands.add_parser("checks", help="list the checks in run order").set_defaults(
        handler=command_checks
    )
    explain = commands.add_parser("explain", help="guidance for a check id or guidance id")
    explain.add_argument("id")
    explain.set_defaults(handler=command_explain)
    login = commands.add_parser(
        "login", help="sign in with Sage ID in a browser and save the tokens in the env file"
    )
    login.add_argument(
        "--env", metavar="FILE", help="env file to read and update (default: ./.env, created)"
    )
    login.add_argument(
        "--no-browser", action="store_true", help="print the sign-in address, open no browser"
    )
    login.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="how long to wait for the sign-in (default: 300)",
    )
    login.add_argument(
        "--port",
        type=int,
        metavar="N",
        help="local port the sign-in comes back to (default: the port of SAGE200_REDIRECT_URI, else 8765)",
    )
    login.set_defaults(handler=command_login)
    from sage200_doctor import diff, rotation_gate

    rotation_gate.register(commands)
    diff.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return EXIT_USAGE if exit_.code not in (0, None) else 0
    handler: Any = args.handler
    try:
        return int(handler(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `sage200-doctor … | head` closed the pipe: not an error worth a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
