"""Triage of a capture: a HAR file judged with the live checks' rules, as a `RunResult`.

`triage(path)` reads the capture once, as a stream: every exchange's credentials are registered
with a fresh `Redactor` (`secrets.py`) before the exchange is judged (`judge.py`), and nothing is
rendered until the last exchange is read, so the evidence, summaries and facts of the result
are redacted with every secret the file holds. The result has the live checks' ids, orders and
titles (passed: observed and fine; failed or warning: a rule's finding with its guidance;
skipped: not observed in this capture), so the verdict, the root cause, the exit code and the
reports come out exactly as for a live run. The file itself is only read.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sage200_doctor.config.keys import BY_NAME
from sage200_doctor.engine.registry import all_checks
from sage200_doctor.engine.results import RunResult
from sage200_doctor.engine.run import select_checks
from sage200_doctor.errors import UsageError
from sage200_doctor.http.oauth import expected_issuer
from sage200_doctor.redact import Redactor

from .har import DEFAULT_MAX_BODY_CHARS, HarCapture, HarError, ProgressCallback, open_har
from .hosts import DEFAULT_HOSTS, SageHosts
from .judge import CaptureJudge
from .model import RecordedExchange
from .secrets import SecretLearner
from .settle import settle

DEFAULT_AUDIENCE = BY_NAME["SAGE200_AUDIENCE"].default or "s200ukipd/sage200"
DEFAULT_TOKEN_URL = BY_NAME["SAGE200_TOKEN_URL"].default or "https://id.sage.com/oauth/token"
HOSTS_NAMED = 5
CHROME_CREATORS = ("webinspector", "chrome", "edge")


class NoSageTraffic(UsageError):
    """The capture holds no exchange with Sage ID or the Sage 200 API (exit 4)."""


@dataclass(frozen=True)
class TriageOptions:
    hosts: SageHosts = DEFAULT_HOSTS
    """Which hosts are Sage ID and the API (`--api-host`, `--identity-host`, `--api-base-url`)."""
    issuer: str | None = None
    """The issuer expected of tokens not issued within the capture (default: Sage ID's)."""
    audience: str = DEFAULT_AUDIENCE
    only: tuple[str, ...] = ()
    progress: ProgressCallback | None = None
    max_body_chars: int = DEFAULT_MAX_BODY_CHARS


@dataclass
class Triage:
    """What `triage` found: the result, the redactor that knows the capture's secrets, and
    where the file stopped if it was cut short (what came before was judged)."""

    result: RunResult
    redactor: Redactor
    capture: HarCapture
    cut_short: HarError | None = None
    secrets: int = 0
    other_hosts: list[str] = field(default_factory=list)


def triage(path: str | Path, options: TriageOptions | None = None) -> Triage:
    """Read and judge the capture at `path`. `HarError` (a `UsageError`) when it cannot be
    read at all, `NoSageTraffic` when it holds nothing to judge."""
    options = options or TriageOptions()
    started = time.perf_counter()
    started_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    capture = open_har(path, progress=options.progress, max_body_chars=options.max_body_chars)
    redactor = Redactor()
    learner = SecretLearner(redactor)
    judge = CaptureJudge(
        all_checks(),
        hosts=options.hosts,
        audience=options.audience,
        issuer=options.issuer or expected_issuer(DEFAULT_TOKEN_URL),
        redactor=redactor,
    )
    others: list[str] = []
    cut_short = _read(capture, learner, judge, others)
    if judge.seen.sage == 0:
        raise NoSageTraffic(_no_sage_traffic(capture, others))
    settle(judge, chrome=_by_chrome(capture))
    specs = select_checks(options.only)
    checks = [r for r in judge.ledger.results(redactor) if r.id in {s.id for s in specs}]
    result = RunResult(
        started_at=started_at,
        duration_s=round(time.perf_counter() - started, 3),
        environment=redactor.safe_data(_environment(capture, judge)),
        checks=checks,
        selection=options.only,
        source="recorded",
        input=Path(path).name,
    )
    return Triage(result, redactor, capture, cut_short, learner.count, others)


def _read(
    capture: HarCapture, learner: SecretLearner, judge: CaptureJudge, others: list[str]
) -> HarError | None:
    """Every exchange: its secrets learned, then judged. A file cut short keeps what came
    before the cut (returned: the error saying where); broken from the start, it raises."""
    try:
        for exchange in capture.exchanges():
            learner.learn(exchange)
            if judge.exchange(exchange) is None and len(others) < HOSTS_NAMED:
                _note_host(exchange, others)
    except HarError as error:
        if capture.entries_seen == 0:
            raise
        return error
    return None


def _note_host(exchange: RecordedExchange, others: list[str]) -> None:
    host = urlsplit(exchange.request.url).hostname or ""
    if host and host not in others:
        others.append(host)


def _by_chrome(capture: HarCapture) -> bool:
    name = (capture.creator.name if capture.creator else "").lower()
    return any(word in name for word in CHROME_CREATORS)


def _no_sage_traffic(capture: HarCapture, others: list[str]) -> str:
    entries = capture.entries_seen
    seen = f" (hosts: {', '.join(others)})" if others else ""
    broken = capture.skipped_total
    unread = f"; {broken} could not be read ({capture.skipped[0].reason})" if broken else ""
    return (
        f"{capture.path.name} holds {entries} entr{'y' if entries == 1 else 'ies'}{unread}, "
        f"none to Sage ID or the Sage 200 API{seen}. Capture the failing calls to "
        "id.sage.com and api.columbus.sage.com, or name the hosts the integration uses with "
        "--api-host, --identity-host or --api-base-url."
    )


def _environment(capture: HarCapture, judge: CaptureJudge) -> dict[str, Any]:
    seen = judge.seen
    editions = sorted(seen.editions)
    first_pair = seen.pairs[0] if seen.pairs else (None, None)
    environment: dict[str, Any] = {
        "edition": " and ".join(editions) if editions else None,
        "api_base_url": seen.api_bases[0] if seen.api_bases else None,
        "token_url": judge.tokens.token_urls[0] if judge.tokens.token_urls else None,
        "site_id": first_pair[0],
        "company_id": first_pair[1],
        "capture": _creator(capture),
        "entries": capture.entries_seen,
        "sage_entries": seen.sage,
        "skipped_entries": capture.skipped_total,
    }
    if len(seen.pairs) > 1:
        environment["pairs_sent"] = "; ".join(f"{s} / {c}" for s, c in seen.pairs)
    if seen.first is not None and seen.last is not None:
        environment["captured_from"] = seen.first.isoformat()
        environment["captured_to"] = seen.last.isoformat()
    return environment


def _creator(capture: HarCapture) -> str:
    creator = capture.creator
    name = f"{creator.name} {creator.version}".strip() if creator else "an unnamed tool"
    return f"{name}, HAR {capture.version}"
