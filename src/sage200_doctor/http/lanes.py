"""Threads that carry requests and can be walked away from.

A request runs on a worker thread while the thread that asked waits for it with a wall-clock
deadline and an eye on the run's stop switch. A server that trickles one byte a second would hold
a request (and `concurrent.futures`' workers, which the interpreter joins at exit) for ever;
daemon workers here can be abandoned: the waiter gives up at the deadline, the process can exit,
and closing the client afterwards ends the stuck read.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass
class Flight(Generic[T]):
    """One job: its future, and when a worker picked it up (None while it waits in the queue)."""

    job: Callable[[], T]
    future: Future[T] = field(default_factory=Future)
    started: float | None = None

    def run(self) -> None:
        if not self.future.set_running_or_notify_cancel():
            return  # cancelled while queued: the asker sent it itself
        self.started = time.monotonic()
        try:
            self.future.set_result(self.job())
        except BaseException as error:  # handed to the asker, who decides
            self.future.set_exception(error)


class Lane:
    """A small pool of daemon workers fed from one queue (jobs sent ahead).

    Workers start as jobs need them, up to `workers`: a run whose widest wave is 20 requests
    starts 20 threads, not the pool's width, and a fleet of many runs does not pay for idle
    ones."""

    def __init__(self, workers: int, *, name: str) -> None:
        self._queue: queue.SimpleQueue[Flight[object] | None] = queue.SimpleQueue()
        self._most = workers
        self._name = name
        self._started = 0
        self._idle = 0
        self._lock = threading.Lock()

    def submit(self, job: Callable[[], T]) -> Flight[T]:
        flight: Flight[T] = Flight(job)
        with self._lock:
            if self._idle > 0:
                self._idle -= 1  # taken: the next job needs another worker
            elif self._started < self._most:
                self._started += 1
                threading.Thread(
                    target=self._work, name=f"{self._name}-{self._started}", daemon=True
                ).start()
        self._queue.put(flight)  # type: ignore[arg-type] # the queue holds flights of any result
        return flight

    def stop(self) -> None:
        """No new work; queued jobs are dropped by their askers (they cancel them)."""
        with self._lock:
            started, self._most = self._started, 0
        for _ in range(started):
            self._queue.put(None)

    def _work(self) -> None:
        while (flight := self._queue.get()) is not None:
            flight.run()
            with self._lock:
                self._idle += 1


def run_alone(job: Callable[[], T], *, name: str) -> Flight[T]:
    """Run `job` on a daemon thread of its own (a request the run waits for right now)."""
    flight: Flight[T] = Flight(job)
    start_alone(flight, name=name)
    return flight


def start_alone(flight: Flight[T], *, name: str) -> None:
    """Run a prepared `flight` on a daemon thread of its own."""
    threading.Thread(target=flight.run, name=name, daemon=True).start()
