"""Writing report files: each one whole or not at all, never through a planted link.

Every report is written to a temporary file in the same directory and renamed over the target:
a reader never sees half a report, and a symbolic link planted where a report goes is replaced,
not followed (rename acts on the link itself).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from sage200_doctor.engine.results import RunResult
from sage200_doctor.redact import Redactor

REPORT_FILES = ("report.html", "report.json", "junit.xml")


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", errors="backslashreplace") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_json(result: RunResult, path: Path, redactor: Redactor) -> None:
    from sage200_doctor.report.json import build_report

    text = json.dumps(build_report(result, redactor), indent=2, ensure_ascii=False)
    write_atomically(path, text + "\n")


def write_run_reports(result: RunResult, report_dir: Path, redactor: Redactor) -> None:
    """report.json, junit.xml and report.html of one run, in `report_dir`."""
    from sage200_doctor.report.html import render_page
    from sage200_doctor.report.junit import build_junit

    write_json(result, report_dir / "report.json", redactor)
    write_atomically(report_dir / "junit.xml", build_junit(result, redactor))
    write_atomically(report_dir / "report.html", render_page(result, redactor))
