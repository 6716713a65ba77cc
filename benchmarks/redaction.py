"""What redaction costs per string: every text one real run masks, replayed against its redactor.

One `sage200-doctor run` against the in-process emulator is recorded (every string that reaches
`Redactor.text` and every secret registered, in order); the strings are then masked again by a
redactor that knows the same secrets, without and with the short-text memo, and the written
report.html is swept again as the run's last step does. A second corpus holds the same strings
with a secret echoed in the encodings servers use (lower-case and double percent-encoding, HTML
entities, JSON escapes, base64 and hex runs), to price the slow path.

    python benchmarks/redaction.py [--scenario healthy] [--repeat 5]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import io
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from _common import machine

from sage200_doctor import commands as cli
from sage200_doctor.emulator import format_env_lines, running_emulator
from sage200_doctor.redact import Redactor

SWEPT_CHARS = 100_000
"""Texts this long are the written reports swept at the end, not strings of the run."""
Call = tuple[str, tuple[Any, ...]]


def _reveal(value: Any) -> Any:
    reveal = getattr(value, "reveal", None)
    return reveal() if callable(reveal) else value


def record_run(scenario: str, workdir: Path) -> tuple[list[Call], list[str], Path]:
    """Run the CLI in this process; return the registrations, the masked texts, report.html."""
    calls: list[Call] = []
    texts: list[str] = []
    originals: dict[str, Callable[..., Any]] = {}

    def spy(name: str) -> None:
        original = getattr(Redactor, name, None)
        if original is None:
            return
        originals[name] = original

        def wrapper(self: Redactor, *args: Any, **kwargs: Any) -> Any:
            if name == "text":
                texts.append(args[0])
            elif not getattr(self, "_replaying", False):
                calls.append((name, tuple(_reveal(a) for a in args)))
            return original(self, *args, **kwargs)

        setattr(Redactor, name, wrapper)

    for name in ("text", "add", "add_basic_credentials", "learn"):
        spy(name)
    try:
        with running_emulator(scenario) as emulator:
            env_file = workdir / "bench.env"
            env_file.write_text(format_env_lines(emulator.env()), encoding="utf-8")
            reports = workdir / "reports"
            with contextlib.redirect_stdout(io.StringIO()):
                cli.main(["run", "--env", str(env_file), "--report-dir", str(reports)])
    finally:
        for name, original in originals.items():
            setattr(Redactor, name, original)
    return calls, texts, reports / "report.html"


def replayed(calls: list[Call]) -> Redactor:
    redactor = Redactor()
    for name, args in calls:
        method = getattr(redactor, name, None)
        if method is not None:
            method(*args)
    return redactor


def hostile(texts: list[str], secret: str) -> list[str]:
    """Every tenth text with the secret echoed in one of the encodings servers use."""
    forms = [
        quote(secret, safe="").lower(),
        quote(quote(secret, safe=""), safe=""),
        "".join(c if c.isalnum() else f"&#{ord(c)};" for c in secret),
        "".join(c if c.isalnum() else f"\\u{ord(c):04X}" for c in secret),
        base64.b64encode(f"Bearer {secret}".encode()).decode(),
        secret.encode().hex().upper(),
    ]
    return [
        f"{text} {forms[i // 10 % len(forms)]}" if i % 10 == 0 else text
        for i, text in enumerate(texts)
    ]


def per_string_us(calls: list[Call], texts: list[str], *, memo: bool, repeat: int) -> float:
    rounds = []
    for _ in range(repeat):
        redactor = replayed(calls)
        started = time.perf_counter()
        for text in texts:
            if not memo:
                redactor._memo.clear()
            redactor.text(text)
        rounds.append(time.perf_counter() - started)
    return statistics.median(rounds) / max(len(texts), 1) * 1e6


def sweep_ms(calls: list[Call], report: Path, workdir: Path, repeat: int) -> float:
    rounds = []
    for _ in range(repeat):
        text = report.read_text(encoding="utf-8")
        redactor = replayed(calls)
        started = time.perf_counter()
        redactor.safe_markup(text)  # the markup-aware sweep (pytest-html pages are swept so)
        rounds.append(time.perf_counter() - started)
    return statistics.median(rounds) * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="healthy")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    print(f"redaction cost per string; {machine()}")
    with tempfile.TemporaryDirectory(prefix="s2d-bench-") as tmp:
        workdir = Path(tmp)
        calls, recorded, report = record_run(args.scenario, workdir)
        # The report sweep (one text the size of report.html) is priced on its own below.
        texts = [text for text in recorded if len(text) < SWEPT_CHARS]
        secret = next(str(a[1]) for name, a in calls if len(a) > 1 and len(str(a[1])) >= 16)
        size = sum(len(t) for t in texts)
        print(f"scenario {args.scenario}: {len(calls)} secrets registered, {len(texts)} texts")
        print(f"  ({size:,} characters, longest {max(map(len, texts)):,})")
        for label, corpus in (("run", texts), ("hostile", hostile(texts, secret))):
            cold = per_string_us(calls, corpus, memo=False, repeat=args.repeat)
            warm = per_string_us(calls, corpus, memo=True, repeat=args.repeat)
            print(f"  {label:8s} µs per text: {cold:7.1f} without memo, {warm:7.1f} with memo")
        print(
            f"  report.html sweep ({report.stat().st_size:,} bytes): "
            f"{sweep_ms(calls, report, workdir, args.repeat):.1f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
