"""`sage200-doctor postman COLLECTION.json`: the collection built from Sage's Postman article,
checked setting by setting; `--write-env` turns it into an env file for `run`; `--run` sends its
GET requests and diagnoses each answer.

The outcome is a `RunResult` like any run's (source "postman"): the same checks, verdict, root
cause, reports and exit codes. Every value of the export that is a credential is registered with
the run's redactor before anything is printed or written.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TextIO

from sage200_doctor.commands.options import add_report_options
from sage200_doctor.errors import UsageError

if TYPE_CHECKING:
    from sage200_doctor.config.settings import LoadedSettings
    from sage200_doctor.engine.results import RunResult
    from sage200_doctor.postman import Collection, VariableScope
    from sage200_doctor.postman.send import Row, Sent
    from sage200_doctor.redact import Redactor

NAME_WIDTH: Final = 48
"""Item paths are padded to line the verdicts up, up to this width."""
NO_ENV_FILE: Final = Path("/nonexistent/sage200-doctor/.env")
"""Settings derived from an export are all there is: no ./.env is read alongside them."""

DESCRIPTION = """\
Check a Postman collection built from Sage's article "Using Postman with the Sage 200 RESTful
API" (OAuth 2.0 with Sage ID, the subscription key, X-Site / X-Company, $filter), without
sending anything. Findings are filed under the checks a live run uses, with the same verdict,
reports and exit codes as `run`.

  sage200-doctor postman "Sage 200.postman_collection.json" \\
      --environment "Sage 200.postman_environment.json" --write-env site.env
  sage200-doctor run --env site.env

--run also sends the collection's GET requests (never anything else) with a fresh token and
diagnoses each answer. See docs/postman.md.
"""


def add_parser(commands: Any, name: str) -> None:
    parser = commands.add_parser(
        name,
        help="check a Postman collection against Sage's Postman article (--run: send its GETs)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "collection",
        metavar="COLLECTION.json",
        help="the collection, exported from Postman as Collection v2.1 (or v2.0)",
    )
    parser.add_argument(
        "--environment",
        metavar="ENV.json",
        help="the Postman environment the collection is used with (its exported file)",
    )
    parser.add_argument(
        "--globals",
        metavar="GLOBALS.json",
        help="the workspace globals export, if the collection uses global variables",
    )
    parser.add_argument(
        "--edition",
        choices=("standard", "professional"),
        help="the site's edition, to tell which requests use the wrong path (default: an "
        "'edition' variable of the environment, else none)",
    )
    parser.add_argument(
        "--api-base-url",
        metavar="URL",
        help="another API base whose requests count as Sage 200 API requests, e.g. the "
        "emulator's (default: SAGE200_API_BASE_URL of the --env file, if it sets one)",
    )
    parser.add_argument(
        "--write-env",
        metavar="FILE",
        help="write the SAGE200_* settings the export holds to FILE (mode 0600) for "
        "`sage200-doctor run --env FILE`; secrets only where the export has them",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="with --write-env: replace FILE if it exists (otherwise it is never overwritten)",
    )
    parser.add_argument(
        "--run",
        action="store_true",
        help="also send the collection's GET requests (never POST, PUT, PATCH or DELETE) with "
        "a fresh token, and diagnose each answer",
    )
    parser.add_argument(
        "--env",
        metavar="FILE",
        help="with --run: get the token with the credentials of this env file instead of those "
        "in the export (a rotated refresh token is written back to it)",
    )
    add_report_options(parser)
    parser.set_defaults(handler=handle)


@dataclass(frozen=True)
class Export:
    collection: Collection
    environment: VariableScope | None
    globals_: VariableScope | None

    @property
    def sources(self) -> tuple[Path | None, ...]:
        scopes = (self.environment, self.globals_)
        return (self.collection.source, *(scope.source for scope in scopes if scope))


def handle(args: argparse.Namespace) -> int:
    from sage200_doctor.commands.run import Presentation, present

    _refuse_unused_options(args)
    started_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    began = time.perf_counter()
    export = _load(args)
    env_settings = _env_settings(args)
    api_base_url = _api_base_url(args, env_settings)
    derived = _derived(export, args, api_base_url)
    show = Presentation.from_args(args)
    stream = sys.stderr if show.format != "text" else sys.stdout
    written = _write_env(args, derived, export, stream) if args.write_env else None
    exported = _settings(derived, None)
    run_with = env_settings or (_settings(derived, written) if written else exported)
    redactor = _redactor(export, exported, run_with)
    sent = None
    if args.run:
        lines = RequestLines(redactor, stream, shown=not show.quiet)
        sent = _send(export, run_with, redactor, api_base_url, lines, from_export=not env_settings)
        lines.finish(sent)
    result = _result(export, args, exported, redactor, sent, api_base_url, (started_at, began))
    result = _with_baseline(_only(result, args), args)
    present(result, redactor, show, listed=False)
    return result.exit_code


# --- inputs -------------------------------------------------------------------------------------


def _refuse_unused_options(args: argparse.Namespace) -> None:
    if args.force and not args.write_env:
        raise UsageError("--force only applies with --write-env FILE.")
    if args.env and not args.run:
        raise UsageError("--env only applies with --run (the credentials the requests use).")


def _load(args: argparse.Namespace) -> Export:
    from sage200_doctor.postman import load_collection, load_environment

    return Export(
        load_collection(Path(args.collection)),
        load_environment(Path(args.environment)) if args.environment else None,
        load_environment(Path(args.globals), kind="globals") if args.globals else None,
    )


def _env_settings(args: argparse.Namespace) -> LoadedSettings | None:
    if not args.env:
        return None
    from sage200_doctor.config.settings import load_settings

    return load_settings(Path(args.env))


def _api_base_url(args: argparse.Namespace, env: LoadedSettings | None) -> str | None:
    if args.api_base_url:
        return str(args.api_base_url)
    if env is not None and env.settings.explicitly_set("SAGE200_API_BASE_URL"):
        return env.settings.api_base_url.strip()
    return None


def _derived(export: Export, args: argparse.Namespace, api_base_url: str | None) -> dict[str, str]:
    from sage200_doctor.postman import settings_from_export

    derived = settings_from_export(
        export.collection,
        environment=export.environment,
        globals_=export.globals_,
        api_base_url=api_base_url,
    )
    if args.edition:
        derived["SAGE200_EDITION"] = args.edition
    return derived


def _settings(derived: dict[str, str], written: Path | None) -> LoadedSettings:
    """The settings the export holds: read back from the file just written (so that a rotated
    refresh token is saved there), else as they are (no ./.env, no environment variables: the
    export is the configuration)."""
    from sage200_doctor.config.keys import KNOWN_KEYS
    from sage200_doctor.config.settings import load_settings

    if written is not None:
        return load_settings(written, environ={})
    ordered = {key: derived[key] for key in KNOWN_KEYS if key in derived}
    return load_settings(None, environ={}, overrides=ordered, default_env_file=NO_ENV_FILE)


def _redactor(export: Export, exported: LoadedSettings, run_with: LoadedSettings) -> Redactor:
    """Knows every secret of the settings in use and of the export, in every encoding."""
    from sage200_doctor.config.settings import redactor_for
    from sage200_doctor.postman import secrets_in_export

    redactor = redactor_for(run_with.settings, exported.settings)
    for value in secrets_in_export(
        export.collection, environment=export.environment, globals_=export.globals_
    ):
        redactor.add("postman_export", value)
    return redactor


# --- doing ----------------------------------------------------------------------------------------


def _write_env(
    args: argparse.Namespace, derived: dict[str, str], export: Export, stream: TextIO
) -> Path:
    from sage200_doctor.postman import write_env_file

    path = write_env_file(Path(args.write_env), derived, force=args.force, sources=export.sources)
    if not args.quiet:
        keys = ", ".join(derived) or "none (the export holds no usable setting)"
        print(
            f"Wrote {len(derived)} setting(s) to {path} (mode 0600): {keys}.\n"
            f"Next: sage200-doctor run --env {path}\n",
            file=stream,
        )
    return path


def _send(
    export: Export,
    loaded: LoadedSettings,
    redactor: Redactor,
    api_base_url: str | None,
    lines: RequestLines,
    *,
    from_export: bool,
) -> Sent:
    from sage200_doctor.commands.waiting import wait_for
    from sage200_doctor.postman import resolve_requests
    from sage200_doctor.postman.send import CollectionRun
    from sage200_doctor.redact import quiet_http_loggers

    quiet_http_loggers()
    requests = resolve_requests(
        export.collection, environment=export.environment, globals_=export.globals_
    )
    env_file = loaded.settings.env_file
    credentials = (
        "the Postman export" if env_file is None else f"the credentials in {env_file.name}"
    )
    run = CollectionRun(
        requests,
        loaded.settings,
        redactor,
        api_base_url=api_base_url,
        credentials=credentials,
        from_export=from_export,
        on_row=lines.show,
    )
    lines.start(run.result.rows)
    return wait_for(run)


def _result(
    export: Export,
    args: argparse.Namespace,
    exported: LoadedSettings,
    redactor: Redactor,
    sent: Sent | None,
    api_base_url: str | None,
    started: tuple[str, float],
) -> RunResult:
    from sage200_doctor.postman import lint_collection, resolve_requests
    from sage200_doctor.postman.coverage import lint_coverage
    from sage200_doctor.postman.results import assemble, placed_findings

    collection, environment, globals_ = export.collection, export.environment, export.globals_
    requests = resolve_requests(collection, environment=environment, globals_=globals_)
    findings = lint_collection(
        collection,
        environment=environment,
        globals_=globals_,
        edition=args.edition,
        api_base_url=api_base_url,
    )
    summary = redactor.data(exported.settings.environment_summary())
    summary["collection"] = redactor.safe_text(collection.name)
    return assemble(
        placed_findings(findings, requests, redactor),
        lint_coverage(requests, api_base_url=api_base_url),
        redactor,
        sent=sent,
        started_at=started[0],
        duration_s=round(time.perf_counter() - started[1], 3),
        environment=summary,
        input_name=Path(collection.source or "collection.json").name,
    )


def _only(result: RunResult, args: argparse.Namespace) -> RunResult:
    """--only: report just these checks (the collection is still read, and sent, whole)."""
    only = tuple(check for group in (args.only or []) for check in group)
    if not only:
        return result
    known = {check.id for check in result.checks}
    unknown = [check for check in only if check not in known]
    if unknown:
        listed = ", ".join(sorted(known))
        raise UsageError(
            f"--only names check(s) this diagnosis has not: {', '.join(unknown)} (it has {listed})."
        )
    checks = [check for check in result.checks if check.id in only]
    return replace(result, checks=checks, selection=only)


def _with_baseline(result: RunResult, args: argparse.Namespace) -> RunResult:
    if not args.baseline:
        return result
    from datetime import date

    from sage200_doctor.engine.baseline import apply_baseline, load_baseline
    from sage200_doctor.postman.results import specs_by_id

    baseline = load_baseline(Path(args.baseline), known_checks=list(specs_by_id()))
    return apply_baseline(result, baseline, date.today())


# --- the terminal ---------------------------------------------------------------------------------


class RequestLines:
    """One terminal line per request (status, method, module, item path, what became of it),
    printed as soon as the request is decided; rows a stopped run never reached come last."""

    def __init__(self, redactor: Redactor, stream: TextIO, *, shown: bool) -> None:
        self._redactor = redactor
        self._stream = stream
        self._shown = shown
        self._printed = 0
        self._width = 0
        self._lock = threading.Lock()

    def start(self, rows: Sequence[Row]) -> None:
        self._width = min(max((len(row.request.name) for row in rows), default=0), NAME_WIDTH)
        self._print("The collection's requests (GET only: nothing that writes is ever sent):")

    def show(self, row: Row) -> None:
        with self._lock:
            self._printed += 1
            self._print(self._line(row))

    def finish(self, sent: Sent) -> None:
        with self._lock:
            for row in sent.rows[self._printed :]:
                self._print(self._line(row))
            self._printed = len(sent.rows)
        gets = sum(row.exchange is not None for row in sent.rows)
        self._print(f"  {gets} of {len(sent.rows)} sent.")
        if sent.rotation is not None:
            self._print(sent.rotation.note)
        self._print("")

    def _line(self, row: Row) -> str:
        status = str(row.status) if row.status is not None else "-"
        method, name = row.request.method, row.request.name
        module = row.module or "-"
        return f"  {status:>3}  {method:<6} {module:<11} {name:<{self._width}}  {row.verdict}"

    def _print(self, text: str) -> None:
        if self._shown:
            from sage200_doctor.redact import neutralise_controls

            print(neutralise_controls(self._redactor.safe_text(text)), file=self._stream)
            self._stream.flush()
