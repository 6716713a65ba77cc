"""How a check is declared (id, order, prerequisites, guidance) and how it reports a finding.

A check is a function taking the run's `Diagnosis` (see `diagnosis.py`). It returns a one-line
summary when all is well, or raises one of the findings below. Gating (blocking the checks whose
prerequisites did not pass) is done by the runner, never by the checks themselves.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

from sage200_doctor.rules import Judgement

if TYPE_CHECKING:
    from sage200_doctor.engine.diagnosis import Diagnosis

CheckFunction = Callable[["Diagnosis"], "str | None"]
AheadFunction = Callable[["Diagnosis"], bool]
"""Starts the GETs a check will send, as soon as what they are built from is known (True), so
that they are under way while earlier checks finish. False: not yet, ask again later."""


@dataclass(frozen=True)
class CheckSpec:
    id: str
    order: int
    title: str
    verifies: str
    depends: tuple[str, ...]
    guidance: tuple[str, ...]
    """Guidance attached to any finding of this check unless the finding names its own."""
    function: CheckFunction
    ahead: AheadFunction | None = None
    ahead_after: tuple[str, ...] = ()
    """Checks that must have passed before `ahead` is asked (its prerequisites need only not
    have failed yet): for work that must not start on settings the run has not accepted."""


class Finding(Exception):
    """Base of the structured results a check raises. Never shown with a traceback."""

    outcome = "failed"

    def __init__(
        self,
        summary: str,
        *,
        detail: str = "",
        guidance: tuple[str, ...] | None = None,
    ) -> None:
        super().__init__(summary)
        self.summary = summary
        self.detail = detail
        self.guidance = guidance


class CheckFailed(Finding):
    outcome = "failed"


class CheckWarning(Finding):
    outcome = "warning"


class CheckSkipped(Finding):
    outcome = "skipped"


def fail(summary: str, *, detail: str = "", guidance: tuple[str, ...] | None = None) -> NoReturn:
    """A blocking finding: the environment has a problem that stops the integration working."""
    raise CheckFailed(summary, detail=detail, guidance=guidance)


def warn(summary: str, *, detail: str = "", guidance: tuple[str, ...] | None = None) -> NoReturn:
    """An advisory finding: works today, but worth fixing."""
    raise CheckWarning(summary, detail=detail, guidance=guidance)


def report(judgement: Judgement) -> NoReturn:
    """Raise a rule's judgement (rules/) as this check's finding."""
    finding = fail if judgement.outcome == "failed" else warn
    finding(judgement.summary, detail=judgement.detail, guidance=judgement.guidance or None)


def report_any(judgements: Iterable[Judgement | None]) -> None:
    """Raise the first failure among `judgements`, else the first warning; nothing if none."""
    found = [j for j in judgements if j is not None]
    for judgement in sorted(found, key=lambda j: j.outcome != "failed"):
        report(judgement)


def skip(summary: str, *, detail: str = "") -> NoReturn:
    """The check does not apply to this configuration."""
    raise CheckSkipped(summary, detail=detail, guidance=())


_REGISTRY: dict[str, CheckSpec] = {}


def check(
    check_id: str,
    *,
    order: int,
    title: str,
    verifies: str,
    depends: tuple[str, ...] = (),
    guidance: tuple[str, ...] = (),
    ahead: AheadFunction | None = None,
    ahead_after: tuple[str, ...] = (),
) -> Callable[[CheckFunction], CheckFunction]:
    """Declare a check. Ids and orders are unique; prerequisites must run earlier.

    `ahead` is optional and only about speed: the check's answers must not depend on it.
    `ahead_after` holds it back until those checks have passed."""

    def register(function: CheckFunction) -> CheckFunction:
        known = _REGISTRY.get(check_id)
        if known is not None and _where(known.function) != _where(function):
            raise ValueError(f"check {check_id!r} is declared twice")
        _REGISTRY[check_id] = CheckSpec(
            check_id, order, title, verifies, depends, guidance, function, ahead, ahead_after
        )
        return function

    return register


def _where(function: CheckFunction) -> tuple[str, str]:
    # The same function imported again (pytester restores sys.modules between in-process runs)
    # replaces its old declaration; only a different function claiming the id is an error.
    return function.__module__, function.__qualname__


def all_checks() -> list[CheckSpec]:
    """Every declared check, in run order. Importing the checks package declares them."""
    # Importing the package declares every check (each module registers its own).
    importlib.import_module("sage200_doctor.checks")

    specs = sorted(_REGISTRY.values(), key=lambda spec: spec.order)
    _validate(specs)
    return specs


def _validate(specs: list[CheckSpec]) -> None:
    seen: dict[str, int] = {}
    orders: dict[int, str] = {}
    for spec in specs:
        if spec.order in orders:
            raise ValueError(f"checks {orders[spec.order]} and {spec.id} share order {spec.order}")
        orders[spec.order] = spec.id
        for prerequisite in spec.depends:
            if prerequisite not in seen:
                raise ValueError(
                    f"{spec.id} depends on {prerequisite}, which does not run before it"
                )
        seen[spec.id] = spec.order


def with_prerequisites(selected: list[str], specs: list[CheckSpec]) -> list[CheckSpec]:
    """The selected checks plus everything they need, in run order (for `--only`)."""
    by_id = {spec.id: spec for spec in specs}
    unknown = [check_id for check_id in selected if check_id not in by_id]
    if unknown:
        raise KeyError(", ".join(unknown))
    wanted: set[str] = set()
    pending = list(selected)
    while pending:
        check_id = pending.pop()
        if check_id not in wanted:
            wanted.add(check_id)
            pending.extend(by_id[check_id].depends)
    return [spec for spec in specs if spec.id in wanted]


def describe(spec: CheckSpec) -> dict[str, Any]:
    return {
        "id": spec.id,
        "order": spec.order,
        "title": spec.title,
        "verifies": spec.verifies,
        "depends": list(spec.depends),
        "guidance": list(spec.guidance),
    }
