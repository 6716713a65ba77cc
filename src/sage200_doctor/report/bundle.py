"""The support bundle: one zip a user can attach to a ticket without leaking a credential.

It holds the run's three reports and `fingerprint.json` (versions, platform, edition, hosts,
timings, outcomes). Every member passes through the run's redactor once more on the way in,
and a member that cannot be redacted is left out (and listed as such), never included raw.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sage200_doctor import __version__
from sage200_doctor.engine.results import RunResult
from sage200_doctor.redact import DROPPED, Redactor

REPORT_FILES = ("report.html", "report.json", "junit.xml")
FINGERPRINT = "fingerprint.json"
URL_KEYS = ("api_base_url", "token_url", "auth_url")


def host_of(url: object) -> str | None:
    """`host[:port]` of a URL: no scheme, user info, path or query (those may carry secrets)."""
    if not isinstance(url, str) or not url.strip():
        return None
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
        port = parts.port
    except ValueError:
        return None
    if not host:
        return None
    host = f"[{host}]" if ":" in host else host
    return f"{host}:{port}" if port else host


def fingerprint(result: RunResult, *, included: dict[str, str]) -> dict[str, Any]:
    """What support needs to place the run: versions, platform, edition, hosts, timings."""
    hosts = {key: host_of(result.environment.get(key)) for key in URL_KEYS}
    contacted = sorted(
        {h for check in result.checks for e in check.evidence if (h := host_of(e.url))}
    )
    return {
        "schema": "sage200-doctor/fingerprint@1",
        "tool": {"name": "sage200-doctor", "version": __version__},
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
        },
        "platform": {
            "system": platform.system(),
            "release": platform.release(),
            "machine": platform.machine(),
        },
        "edition": result.environment.get("edition"),
        "hosts": {key: host for key, host in hosts.items() if host},
        "hosts_contacted": contacted,
        "started_at": result.started_at,
        "duration_s": result.duration_s,
        "verdict": result.verdict.value,
        "exit_code": result.exit_code,
        "root_cause": result.root_cause.id if result.root_cause else None,
        "also_found": [check.id for check in result.also_found],
        "checks": [
            {
                "id": check.id,
                "outcome": check.outcome.value,
                "blocked_by": check.blocked_by,
                "duration_ms": round(check.duration_ms, 1),
                "requests": len(check.evidence),
                "statuses": [e.status for e in check.evidence],
            }
            for check in result.checks
        ],
        "files": included,
    }


def _member(path: Path, redactor: Redactor) -> tuple[str | None, str]:
    """The redacted text of one report file and its state: included, missing or dropped."""
    if not path.is_file():
        return None, "missing"
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None, "dropped: unreadable"
    redacted = redactor.safe_text(text)
    if redacted == DROPPED:
        return None, "dropped: could not be redacted safely"
    return redacted, "included"


def write_bundle(
    bundle_path: Path, report_dir: Path, result: RunResult, redactor: Redactor
) -> None:
    """Write the zip atomically: report.html, report.json, junit.xml and fingerprint.json."""
    members: dict[str, str] = {}
    states: dict[str, str] = {}
    for name in REPORT_FILES:
        text, state = _member(report_dir / name, redactor)
        states[name] = state
        if text is not None:
            members[name] = text
    if "report.json" not in members:
        from sage200_doctor.report.json import build_report

        members["report.json"] = json.dumps(build_report(result, redactor), indent=2) + "\n"
        states["report.json"] = "rebuilt from the run"
    data = redactor.safe_data(fingerprint(result, included=states))
    members[FINGERPRINT] = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    _write_zip(bundle_path, members)


def _write_zip(path: Path, members: dict[str, str]) -> None:
    path = path.expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".bundle-", suffix=".zip")
    try:
        with (
            os.fdopen(handle, "wb") as stream,
            zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_DEFLATED) as archive,
        ):
            for name, text in members.items():
                archive.writestr(name, text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
