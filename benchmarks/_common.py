"""What every benchmark script shares: the emulator in its own process, timing, medians, the machine.

Each script is run as `python benchmarks/NAME.py` with the interpreter sage200-doctor is installed
in; this module sits next to them, so it is importable as `_common`.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import platform
import queue
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

BENCHMARKS = Path(__file__).resolve().parent
DEFAULT_LATENCY_MS = 100
_READY_TIMEOUT_S = 30.0


def doctor_command() -> list[str]:
    """The installed `sage200-doctor` console script of this interpreter (else `-m`)."""
    script = Path(sys.executable).with_name("sage200-doctor")
    if script.is_file():
        return [str(script)]
    found = shutil.which("sage200-doctor")
    return [found] if found else [sys.executable, "-m", "sage200_doctor"]


def child_environment() -> dict[str, str]:
    """This process's environment minus anything that would bend a measured run.

    Real SAGE200_* variables override the env file (CONTRACT §2), and a proxy variable would
    send loopback traffic through the proxy, so both are kept away from the children; so is
    PYTHONDONTWRITEBYTECODE (see below).
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith("SAGE200_")}
    # An installed package runs from compiled bytecode (pip writes .pyc files, Python caches
    # them on first import). A sandbox that sets PYTHONDONTWRITEBYTECODE makes every run compile
    # the whole package from source again, a cost no user pays (~0.3 s here).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    for key in ("NO_PROXY", "no_proxy"):
        env[key] = ",".join(filter(None, [env.get(key, ""), "127.0.0.1", "localhost"]))
    return env


@dataclass
class Emulator:
    """`sage200-doctor emulate` running in a child process, and the env lines it printed."""

    scenario: str
    latency_ms: int
    base_url: str
    env_text: str
    process: subprocess.Popen[str]
    env: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        parsed = dotenv_values(stream=io.StringIO(self.env_text))
        self.env = {key: value or "" for key, value in parsed.items()}

    def request_log(self) -> list[dict[str, Any]]:
        """The emulator's own log of every request it has answered (GET /_emulator/requests)."""
        with urllib.request.urlopen(f"{self.base_url}/_emulator/requests", timeout=30) as answer:  # noqa: S310 - our own loopback emulator, http by construction
            entries: list[dict[str, Any]] = json.load(answer)
        return entries

    def served_count(self) -> int:
        """Requests answered so far, not counting the benchmark's own log reads."""
        return sum(1 for entry in self.request_log() if entry["face"] != "emulator")

    def write_env_file(self, directory: Path, *, name: str = "", extra: str = "") -> Path:
        """The env lines (plus `extra` lines) as a 0600 file inside `directory` (a temporary
        directory: secrets)."""
        path = directory / f"{name or self.scenario}.env"
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            stream.write(self.env_text + extra)
        return path


def _read_lines(stream: io.TextIOBase, lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


@contextlib.contextmanager
def emulator(scenario: str, *, latency_ms: int = DEFAULT_LATENCY_MS) -> Iterator[Emulator]:
    """Start `sage200-doctor emulate` on a free loopback port; stop it (SIGTERM) at the end."""
    command = [
        *doctor_command(),
        "emulate",
        "--scenario",
        scenario,
        "--port",
        "0",
        "--latency-ms",
        str(latency_ms),
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, text=True, env=child_environment(), bufsize=1
    )
    try:
        base_url, env_text = _await_announcement(process)
        yield Emulator(scenario, latency_ms, base_url, env_text, process)
    finally:
        _stop(process)


def _await_announcement(process: subprocess.Popen[str]) -> tuple[str, str]:
    assert process.stdout is not None
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True).start()
    base_url, env_lines = "", []
    deadline = time.monotonic() + _READY_TIMEOUT_S
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise RuntimeError("the emulator did not announce itself in time") from None
        if line is None:
            raise RuntimeError(f"the emulator exited early (exit {process.wait()})")
        if line.startswith("#") and "serving " in line:
            base_url = line.rsplit("serving ", 1)[1].strip()
        elif line.startswith("SAGE200_"):
            env_lines.append(line)
        elif not line.strip() and env_lines:
            return base_url, "".join(env_lines)


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass(frozen=True)
class Timed:
    seconds: float
    """Wall time, spawn to exit."""
    cpu: float
    """User + system CPU time of the child (and its children): far less bent by busy neighbours."""
    returncode: int
    stdout: str
    stderr: str


def children_cpu() -> float:
    """User + system CPU of the children waited for so far (and their own children)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: Sequence[str], *, cwd: Path | None = None) -> Timed:
    """Wall and CPU time of one child process, from spawn to exit, output captured."""
    cpu_before = children_cpu()
    started = time.perf_counter()
    done = subprocess.run(
        list(command), capture_output=True, text=True, cwd=cwd, env=child_environment()
    )
    elapsed = time.perf_counter() - started
    cpu = children_cpu() - cpu_before
    return Timed(elapsed, cpu, done.returncode, done.stdout, done.stderr)


def median_ms(samples: Sequence[float]) -> float:
    return statistics.median(samples) * 1000


def spread(samples: Sequence[float]) -> str:
    """`median (min-max)` in milliseconds."""
    return f"{median_ms(samples):7.0f} ({min(samples) * 1000:.0f}-{max(samples) * 1000:.0f})"


def python_bare() -> list[str]:
    """The interpreter's bare start-up: `python -c pass`."""
    return [sys.executable, "-c", "pass"]


def machine() -> str:
    """One line describing where the figures were taken."""
    memory = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {cpus} CPUs (nproc); {memory} RAM; "
        f"Python {platform.python_version()} ({sys.executable}); {platform.system()} "
        f"{platform.release()}\nproduct measured: {product()}"
    )


def product() -> str:
    """Which sage200-doctor the children will run (PYTHONPATH can point at a snapshot)."""
    import sage200_doctor

    return (
        f"sage200-doctor {sage200_doctor.__version__} from {Path(sage200_doctor.__file__).parent}"
    )


def scratch(prefix: str) -> tempfile.TemporaryDirectory[str]:
    """A private temporary directory: env files with secrets live and die here."""
    return tempfile.TemporaryDirectory(prefix=f"sage200-bench-{prefix}-")


def isolated_pytest(directory: Path, *extra: str) -> list[str]:
    """`python -m pytest -q` on `directory` with its own pytest.ini and rootdir, no cache."""
    return [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-c",
        str(directory / "pytest.ini"),
        "--rootdir",
        str(directory),
        "-p",
        "no:cacheprovider",
        *extra,
        str(directory),
    ]
