"""Modules a run needs late, imported on a background thread while the run waits on the network.

A run spends much of its wall time waiting for answers, and Python lets other threads run while
a socket waits: modules imported meanwhile cost the run no time. Importing from two threads is
safe (each module has its own import lock): a check that needs a module before this thread got to
it waits for that one import to finish, or imports it itself.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterable

NEEDED_BY_CHECK = {
    "token.claims": ("jwt",),
    "customers.query_conformance": ("sage200_doctor.http.odata_search",),  # hypothesis
    "api.schema": ("jsonschema",),
}
NEEDED_BY_EVERY_RUN = ("sage200_doctor.report.json", "sage200_doctor.report.terminal")


class Warmup:
    """The background imports for the checks of one run; `stop` ends them after the current one."""

    def __init__(self, check_ids: Iterable[str]) -> None:
        self.modules = [m for c in check_ids for m in NEEDED_BY_CHECK.get(c, ())]
        self.modules += NEEDED_BY_EVERY_RUN
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sage200-doctor-warmup", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Never leave an import running into interpreter shutdown; skip what is not begun."""
        self._stopping.set()
        self._thread.join()

    def _run(self) -> None:
        for name in self.modules:
            if self._stopping.is_set():
                return
            try:
                importlib.import_module(name)
            except Exception:  # noqa: S112 - only a head start: whoever needs it imports it and sees the error
                continue
