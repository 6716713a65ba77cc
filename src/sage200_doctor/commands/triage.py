"""`sage200-doctor triage FILE.har`: judge what a client really sent, from a capture.

No credentials and no network: the capture (Chrome, Edge, Firefox, Fiddler, Charles, Proxyman,
Insomnia, or `emulate --record`) is read as a stream and judged with the live checks' rules
(`sage200_doctor.recorded.triage`); the reports, the verdict and the exit code are those of
`run`. A file that is not a HAR capture, or holds no Sage traffic, is a usage error (exit 4).
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sage200_doctor.commands.options import add_report_options
from sage200_doctor.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from sage200_doctor.recorded.triage import Triage

PROGRESS_FROM_BYTES = 4 * 1024 * 1024
"""Smaller captures are read in well under a second: no progress bar for them."""


def add_parser(commands: Any, name: str) -> None:
    parser = commands.add_parser(
        name,
        help="diagnose a HAR capture of the failing calls (no credentials needed)",
        description="Judge the Sage ID and Sage 200 API exchanges of a HAR file (exported from "
        "browser developer tools, Fiddler, Charles, Proxyman or Insomnia) with the same rules "
        "as `run`, without sending anything. Every secret in the file is masked in the output; "
        "the file itself is not changed. See docs/triage.md.",
    )
    parser.add_argument("file", metavar="FILE.har", help="the capture to judge")
    parser.add_argument(
        "--api-host",
        action="append",
        default=[],
        metavar="HOST[:PORT][/PATH]",
        help="another host that serves the Sage 200 API (a private gateway; repeatable)",
    )
    parser.add_argument(
        "--identity-host",
        action="append",
        default=[],
        metavar="HOST[:PORT][/PATH]",
        help="another host that serves Sage ID (a test tenant; repeatable)",
    )
    parser.add_argument(
        "--api-base-url",
        metavar="URL",
        help="the API base the client used, when not Sage's (e.g. the emulator's "
        "http://127.0.0.1:8200/uk/sage200extra/accounts/v1/); the rest of its host is taken "
        "as Sage ID",
    )
    add_report_options(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from sage200_doctor.commands.run import Presentation, present
    from sage200_doctor.recorded.triage import triage

    show = Presentation.from_args(args)
    path = Path(args.file)
    with _ReadingProgress(path, quiet=show.quiet or show.format != "text") as progress:
        found = triage(path, _options(args, progress))
    result = found.result
    baseline = getattr(args, "baseline", None)
    if baseline:
        from sage200_doctor.engine.baseline import apply_baseline, load_baseline

        result = apply_baseline(result, load_baseline(Path(baseline)), date.today())
    if not show.quiet and show.format == "text":
        print(_heading(found), file=sys.stderr)
    if found.cut_short is not None:
        print(f"sage200-doctor: {found.cut_short}", file=sys.stderr)
    present(result, found.redactor, show, listed=False)
    if found.cut_short is not None and result.exit_code == 0:
        return int(ExitCode.USAGE)  # a verdict on part of a capture is not a pass
    return result.exit_code


def _options(args: argparse.Namespace, progress: Any) -> Any:
    from sage200_doctor.http.oauth import expected_issuer
    from sage200_doctor.recorded import SageHosts
    from sage200_doctor.recorded.triage import TriageOptions

    hosts = SageHosts()
    issuer = None
    try:
        if args.api_base_url:
            hosts = hosts.with_api_base(args.api_base_url)
            issuer = expected_issuer(args.api_base_url)
        hosts = hosts.extended(identity=args.identity_host, api=args.api_host)
    except ValueError as error:
        raise UsageError(f"a host option cannot be used: {error}") from None
    if args.identity_host:
        identity = args.identity_host[0]
        issuer = expected_issuer(identity if "://" in identity else f"https://{identity}")
    only = tuple(check for group in (args.only or []) for check in group)
    return TriageOptions(hosts=hosts, issuer=issuer, only=only, progress=progress)


def _heading(found: Triage) -> str:
    environment = found.result.environment
    skipped = found.capture.skipped
    lines = [
        f"Triage of {found.result.input} ({environment.get('capture')}): "
        f"{environment.get('sage_entries')} of {environment.get('entries')} entries are Sage "
        "traffic; secrets in it are masked in everything below."
    ]
    lines += [
        f"  {item.count} entr{'y' if item.count == 1 else 'ies'} skipped: {item.reason} "
        f"(first: entry {item.first_index})"
        for item in skipped
    ]
    return found.redactor.safe_text("\n".join(lines)) + "\n"


class _ReadingProgress:
    """A progress bar on stderr while a big capture is read (a terminal only: not in CI,
    with -q or a machine format); a no-op otherwise."""

    def __init__(self, path: Path, *, quiet: bool) -> None:
        from sage200_doctor.report.progress import is_live

        try:
            size = path.stat().st_size
        except OSError:
            size = 0
        self.shown = not quiet and size >= PROGRESS_FROM_BYTES and is_live(sys.stderr)
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> Any:
        if not self.shown:
            return None
        from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

        from sage200_doctor.report.terminal import no_color_requested

        self._bar = Progress(
            "Reading the capture",
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            console=_console(no_color_requested()),
            transient=True,
        )
        self._bar.start()
        self._task = self._bar.add_task("read", total=None)
        return self._advance

    def _advance(self, done: int, total: int) -> None:
        self._bar.update(self._task, completed=done, total=total)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()


def _console(no_color: bool) -> Any:
    from rich.console import Console

    return Console(file=sys.stderr, no_color=no_color, highlight=False)
