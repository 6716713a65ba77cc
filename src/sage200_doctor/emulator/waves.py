"""Waves of requests, counted from the emulator's own log (arrival and answer times).

A client that waits for an answer before sending its next request makes a *sequential wait*:
seen from the server, that request arrives after an earlier answer left. A request's wave is
one more than the wave of the latest answer that had left before it arrived (1 if none had):
requests sent together share a wave however long the client took to build them, as long as no
answer left meanwhile. The number of waves of a run is its longest chain of such waits, which
is what latency multiplies. It needs no wall-clock threshold, so a slow or busy machine changes
it only if the client is slower than a whole round trip.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .state import LoggedRequest


@dataclass(frozen=True)
class Waved:
    """One logged request and the wave it arrived in (1 = sent before any answer came back)."""

    entry: LoggedRequest
    wave: int


def waves_of(log: Iterable[LoggedRequest]) -> list[Waved]:
    """Every request (the emulator's own `/_emulator/` reads left out) with its wave, in
    arrival order."""
    entries = sorted((e for e in log if e.face != "emulator"), key=lambda e: e.arrived)
    waved: list[Waved] = []
    for entry in entries:
        before = [w.wave for w in waved if w.entry.answered <= entry.arrived]
        waved.append(Waved(entry, 1 + max(before, default=0)))
    return waved


def count_waves(log: Iterable[LoggedRequest]) -> int:
    """The number of sequential waits the client made (0 for no request)."""
    return max((w.wave for w in waves_of(log)), default=0)


def wave_sizes(log: Iterable[LoggedRequest]) -> list[int]:
    """How many requests arrived in each wave, first wave first."""
    waved = waves_of(log)
    return [sum(1 for w in waved if w.wave == n) for n in range(1, count_waves(log) + 1)]


def from_json(entries: Sequence[dict[str, object]]) -> list[LoggedRequest]:
    """Entries of `GET /_emulator/requests` back as `LoggedRequest`s (for another process)."""
    return [LoggedRequest(**entry) for entry in entries]  # type: ignore[arg-type] # our own JSON
