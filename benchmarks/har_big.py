"""The HAR reader on big and bad captures: a ~200 MB file with 50,000 entries, and worse.

Generates captures in a private temporary directory (deleted at the end; never committed), then
reads each in a child process (`open_har` + every exchange, as triage will) and prints its wall
time, the child's CPU time and its peak RSS (from wait4), next to a child that only imports the
reader. The reader must stay bounded: peak RSS under 300 MiB for the 200 MB file.

Cases: `typical` (Chrome's key order: `creator` before `entries`), `creator-last` (the head
scan reads the whole file once more to find `log.creator`), `cut-short` (the typical file cut at
90 %: entries up to the cut, then a `HarError`), `huge-body` (1,000 entries, one with a
`--huge-mb` body: memory follows the largest entry, not the file).

    python benchmarks/har_big.py [--entries 50000] [--target-mb 200] [--huge-mb 50]
                                 [--case typical creator-last cut-short huge-body] [--repeat 1]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from _common import child_environment, machine, scratch

CASES = ("typical", "creator-last", "cut-short", "huge-body")
API = "https://api.columbus.sage.com/uk/sage200extra/accounts/v1"
# The measured child: open, walk every exchange, touch each body; print counts as JSON.
READER = """
import json, sys, time
from sage200_doctor.recorded import BACKEND, HarError, open_har

started = time.perf_counter()
capture = open_har(sys.argv[1])
opened = time.perf_counter()
count = chars = 0
error = None
try:
    for exchange in capture:
        count += 1
        chars += len(exchange.response.body or "") + len(exchange.request.url)
except HarError as problem:
    error = problem.kind
print(json.dumps({"backend": BACKEND, "exchanges": count, "chars": chars, "error": error,
                  "skipped": capture.skipped_total, "open_s": opened - started,
                  "read_s": time.perf_counter() - opened}))
"""
BARE = "import sage200_doctor.recorded"


@dataclass(frozen=True)
class Figures:
    case: str
    size_mb: float
    exchanges: int
    error: str | None
    wall_s: float
    open_s: float
    cpu_s: float
    rss_mb: float
    backend: str


def _entry(rng: random.Random, index: int, body_chars: int) -> dict[str, Any]:
    """One Chrome-shaped entry; every tenth a token POST, the rest API GETs with JSON bodies."""
    token = index % 10 == 0
    url = "https://id.sage.com/oauth/token" if token else f"{API}/customers?$top=50&$skip={index}"
    rows = [{"id": index * 50 + n, "reference": f"C{index:06d}{n:02d}", "name": "x" * 40}
            for n in range(max(1, body_chars // 90))]  # fmt: skip
    body = json.dumps(rows)[:body_chars]
    content: dict[str, Any] = {"size": len(body), "mimeType": "application/json", "text": body}
    if index % 7 == 0:  # some bodies as Chrome writes binary ones
        content |= {"text": base64.b64encode(body.encode()).decode(), "encoding": "base64"}
    headers = [{"name": name, "value": value} for name, value in (
        (":authority", "api.columbus.sage.com"), (":method", "GET"), (":path", url[35:]),
        (":scheme", "https"), ("accept", "application/json"), ("authorization", "Bearer " + "e" * 900),
        ("ocp-apim-subscription-key", "CANARY-SUBSCRIPTION-KEY"), ("x-site", "3fa85f64-5717-4562"),
        ("x-company", "2"), ("user-agent", "Mozilla/5.0 (benchmark) Chrome/131.0.0.0"))]  # fmt: skip
    request: dict[str, Any] = {"method": "POST" if token else "GET", "url": url,
                               "httpVersion": "http/2.0", "headers": headers, "queryString": [],
                               "cookies": [], "headersSize": -1, "bodySize": 0}  # fmt: skip
    if token:
        text = "grant_type=refresh_token&refresh_token=CANARY-REFRESH&client_id=CANARY-CLIENT"
        request["postData"] = {"mimeType": "application/x-www-form-urlencoded", "text": text}
    return {
        "_initiator": {"type": "script"}, "_priority": "High", "_resourceType": "fetch",
        "cache": {}, "pageref": "page_1", "request": request,
        "response": {"status": 200 if rng.random() > 0.02 else 401, "statusText": "",
                     "httpVersion": "http/2.0", "headers": [{"name": "content-type",
                     "value": "application/json; charset=utf-8"}], "cookies": [],
                     "content": content, "redirectURL": "", "headersSize": -1, "bodySize": -1,
                     "_transferSize": len(body), "_error": None},
        "serverIPAddress": "20.50.2.12", "startedDateTime": "2026-11-23T18:00:00.123Z",
        "time": round(rng.uniform(50, 400), 3), "timings": {"blocked": 1, "dns": -1,
        "ssl": -1, "connect": -1, "send": 0.1, "wait": 100.5, "receive": 1.2},
    }  # fmt: skip


def _entries(
    count: int, body_chars: int, *, huge_at: int | None = None, huge_chars: int = 0
) -> Iterator[str]:
    rng = random.Random(1)  # reproducible test data, not cryptography
    for index in range(count):
        chars = huge_chars if index == huge_at else body_chars
        yield json.dumps(_entry(rng, index, chars))


def write_har(path: Path, entries: Iterator[str], *, creator_last: bool = False) -> None:
    creator = '"creator": {"name": "WebInspector", "version": "537.36"}'
    with path.open("w", encoding="utf-8") as out:
        out.write('{"log": {"version": "1.2", ')
        if not creator_last:
            out.write(creator + ", ")
        out.write('"pages": [], "entries": [\n')
        _write_list(out, entries)
        out.write("\n]" + (", " + creator if creator_last else "") + "}}\n")


def _write_list(out: TextIO, entries: Iterator[str]) -> None:
    for number, entry in enumerate(entries):
        out.write((",\n" if number else "") + entry)


def _cut(source: Path, target: Path, fraction: float) -> None:
    keep = int(source.stat().st_size * fraction)
    with source.open("rb") as read, target.open("wb") as write:
        while keep > 0:
            chunk = read.read(min(keep, 1 << 20))
            write.write(chunk)
            keep -= len(chunk)


def _run_child(code: str, *args: str) -> tuple[dict[str, Any], float, float, float]:
    """(printed JSON, wall s, CPU s, peak RSS MiB) of one child, measured with wait4."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-c", code, *args], stdout=subprocess.PIPE, env=child_environment()
    )
    assert process.stdout is not None
    output = process.stdout.read()
    process.stdout.close()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise RuntimeError(f"the reader child failed (exit {process.returncode})")
    printed = json.loads(output) if output.strip() else {}
    return printed, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def measure(case: str, path: Path, repeat: int) -> Figures:
    rounds = [_run_child(READER, str(path)) for _ in range(repeat)]
    printed = rounds[-1][0]
    return Figures(
        case=case,
        size_mb=path.stat().st_size / 1e6,
        exchanges=printed["exchanges"],
        error=printed["error"],
        wall_s=statistics.median(r[1] for r in rounds),
        open_s=statistics.median(r[0]["open_s"] for r in rounds),
        cpu_s=statistics.median(r[2] for r in rounds),
        rss_mb=max(r[3] for r in rounds),
        backend=printed["backend"],
    )


def build(case: str, directory: Path, args: argparse.Namespace) -> Path:
    body_chars = max(200, int(args.target_mb * 1e6 / args.entries) - 2200)
    path = directory / f"{case}.har"
    if case == "typical":
        write_har(path, _entries(args.entries, body_chars))
    elif case == "creator-last":
        write_har(path, _entries(args.entries, body_chars), creator_last=True)
    elif case == "cut-short":
        typical = directory / "typical.har"
        if not typical.exists():
            write_har(typical, _entries(args.entries, body_chars))
        _cut(typical, path, 0.9)
    else:
        huge = int(args.huge_mb * 1e6)
        write_har(path, _entries(1000, body_chars, huge_at=500, huge_chars=huge))
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=50_000)
    parser.add_argument("--target-mb", type=float, default=200)
    parser.add_argument("--huge-mb", type=float, default=50)
    parser.add_argument("--case", nargs="+", choices=CASES, default=list(CASES))
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    print(f"# {machine()}")
    _, bare_wall, bare_cpu, bare_rss = _run_child(BARE)
    print(
        f"# a child that only imports the reader: {bare_wall:.2f} s wall, {bare_cpu:.2f} s CPU, "
        f"peak RSS {bare_rss:.1f} MiB"
    )
    print(
        f"{'case':>13} {'file MB':>8} {'exchanges':>10} {'error':>10} {'open s':>7} "
        f"{'wall s':>7} {'CPU s':>6} {'peak RSS':>11} backend"
    )
    with scratch("har") as directory:
        for case in args.case:
            started = time.perf_counter()
            path = build(case, Path(directory), args)
            made = time.perf_counter() - started
            f = measure(case, path, args.repeat)
            print(
                f"{f.case:>13} {f.size_mb:>8.1f} {f.exchanges:>10,} {f.error or '-':>10} "
                f"{f.open_s:>7.2f} {f.wall_s:>7.2f} {f.cpu_s:>6.2f} {f.rss_mb:>7.1f} MiB "
                f"{f.backend}  (generated in {made:.1f} s)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
