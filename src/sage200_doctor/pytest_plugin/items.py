"""Presenting engine results as pytest items, for one environment and for a fleet alike.

An item does not run a check: it waits for the engine's result of its check and replays it.
So pytest may reorder items (pytest-randomly), deselect them (-k, -m, --lf), rerun them
(pytest-rerunfailures) or time them (pytest-timeout): the diagnosis, its order, its requests and
its verdict stay the engine's.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest

from sage200_doctor.engine.results import CheckResult, Interruption, Outcome
from sage200_doctor.engine.signals import SIGINT, SIGTERM, SigtermAsInterrupt, Terminated

__all__ = ["SIGINT", "SigtermAsInterrupt", "Terminated"]

CATEGORIES = {
    Outcome.PASSED: ("passed", "", "PASSED"),
    Outcome.WARNING: ("warned", "", "WARNING"),
    Outcome.FAILED: ("failed", "", "FAILED"),
    Outcome.BLOCKED: ("blocked", "", "BLOCKED"),
    Outcome.SKIPPED: ("skipped", "", "SKIPPED"),
    Outcome.ERROR: ("error", "", "ERROR"),
    Outcome.INTERRUPTED: ("interrupted", "", "INTERRUPTED"),
}


class ResultSource(Protocol):
    """Something that can wait for a check's result and be told to stop."""

    def result_of(self, key: str) -> CheckResult: ...

    def interrupt(self, interruption: Interruption) -> None: ...


class DiagnosticFailure(Exception):
    def __init__(self, result: CheckResult) -> None:
        super().__init__(result.summary)
        self.result = result


class CheckItem(pytest.Item):
    """One check's result, as a pytest item named by the check id."""

    def __init__(
        self, *, key: str, source: ResultSource, label: str, brief: bool = False, **kw: Any
    ) -> None:
        super().__init__(**kw)
        self.key = key
        self.source = source
        self.label = label
        self.brief = brief

    def runtest(self) -> None:
        try:
            result = self.source.result_of(self.key)
        except Terminated:
            self.source.interrupt(SIGTERM)
            raise
        except KeyboardInterrupt:
            self.source.interrupt(SIGINT)
            raise
        present(result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, DiagnosticFailure):
            return describe(excinfo.value.result, prefix=self.label, brief=self.brief)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, self.label


def present(result: CheckResult) -> None:
    """A result as pytest sees it: failed and error fail the item, the rest pass or skip."""
    if result.outcome in (Outcome.FAILED, Outcome.ERROR):
        raise DiagnosticFailure(result)
    if result.outcome is Outcome.BLOCKED:
        pytest.skip(f"blocked by {result.blocked_by}")
    if result.outcome in (Outcome.SKIPPED, Outcome.INTERRUPTED):
        pytest.skip(result.summary)


def describe(result: CheckResult, *, prefix: str, brief: bool) -> str:
    """A failed check as pytest shows it (no traceback)."""
    lines = [f"{prefix}: {result.summary}"]
    if not brief and result.details:
        lines.append(result.details)
    if not brief and result.guidance_ids:
        lines.append("guidance: " + ", ".join(result.guidance_ids))
    return "\n".join(lines)


def teststatus(outcome: Outcome | None, report: pytest.TestReport) -> tuple[str, str, str] | None:
    """Our outcomes as pytest categories (no progress letters: the summary says it all)."""
    if report.when != "call" or outcome is None:
        return ("", "", "") if report.passed and report.when != "call" else None
    return CATEGORIES[outcome]


def use_as_collection(session: pytest.Session, items: list[pytest.Item]) -> bool:
    """Make `items` the session's whole collection, still honouring -k/-m and other plugins."""
    config = session.config
    config.hook.pytest_collection_modifyitems(session=session, config=config, items=items)
    session.items = items
    session.testscollected = len(items)
    config.hook.pytest_collection_finish(session=session)
    return True


def keep_engine_order(items: list[pytest.Item], by_node: dict[str, str]) -> None:
    """Put the diagnosis's items back in run order after plugins that shuffle them
    (pytest-randomly, pytest-random-order): the report reads in the order checks depend on each
    other. Deselection (-k, -m, --lf) has already happened and is kept."""
    order = {key: index for index, key in enumerate(by_node.values())}
    ours = [item for item in items if item.nodeid in by_node]
    ours.sort(key=lambda item: order[by_node[item.nodeid]])
    iterator = iter(ours)
    items[:] = [next(iterator) if item.nodeid in by_node else item for item in items]


def no_reseeding_during_the_run(config: pytest.Config) -> None:
    """pytest-randomly reseeds the global `random` module before each item, from the main
    thread, while the engine's thread is generating queries with hypothesis, which checks that
    nobody touches that state meanwhile (a warning, an error under -W error). Items here run no
    test code, so per-item reseeding buys nothing: it is switched off for this session (its
    one reseed at session start stays)."""
    if hasattr(config.option, "randomly_reset_seed"):
        config.option.randomly_reset_seed = False


def keep_in_one_process(config: pytest.Config) -> str | None:
    """Switch off pytest-xdist's distribution: one diagnosis runs in one place (the engine
    sends its requests concurrently itself). Returns a note for the terminal, or None."""
    numprocesses = getattr(config.option, "numprocesses", None)
    if not numprocesses or getattr(config.option, "dist", "no") == "no":
        return None
    config.option.dist = "no"
    config.option.numprocesses = 0
    config.option.tx = []
    return (
        f"sage200-doctor: -n {numprocesses} ignored: one diagnosis runs in this process "
        "(its requests already go out concurrently)."
    )


def per_test_time_limit(config: pytest.Config) -> float | None:
    """pytest-timeout's per-test timeout, which the engine applies to each check itself."""
    if not config.pluginmanager.hasplugin("timeout"):
        return None
    value = getattr(config, "_env_timeout", None)
    return float(value) if isinstance(value, int | float) and value > 0 else None


def without_plugin_timeouts(config: pytest.Config, items: list[pytest.Item]) -> None:
    """pytest-timeout would dump every thread's stack and fail one item mid-wait; the engine
    enforces the same limit per check and ends the run as interrupted instead."""
    if config.pluginmanager.hasplugin("timeout"):
        for item in items:
            item.add_marker(pytest.mark.timeout(0))


def check_items(
    parent: pytest.Collector, keys: list[tuple[str, str]], source: ResultSource, *, brief: bool
) -> Iterator[CheckItem]:
    """One item per (key, label), in the engine's order."""
    for key, label in keys:
        yield CheckItem.from_parent(
            parent, name=label, key=key, source=source, label=label, brief=brief
        )
