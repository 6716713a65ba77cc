"""What a Postman diagnosis found, shared by the lint's results and `--run`: findings placed on
the requests they apply to, and one row per request sent."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from sage200_doctor.catalogue import module_of_path
from sage200_doctor.config.rotation import RotationRecord
from sage200_doctor.engine.results import Exchange, Interruption
from sage200_doctor.rules import Judgement

from .coverage import Fine
from .model import ResolvedRequest

STOPPED: Final = "not sent: the run was stopped"


@dataclass(frozen=True)
class Placed:
    """A judgement, where it applies (`request 'A/B'`, `folder 'A'`, `the collection`, ...) and
    the exchanges that show it (the request as exported, or as sent and answered)."""

    judgement: Judgement
    where: str
    evidence: tuple[Exchange, ...] = ()


@dataclass
class Row:
    """One request of the collection and what became of it."""

    request: ResolvedRequest
    verdict: str = STOPPED
    status: int | None = None
    exchange: Exchange | None = None
    sent_headers: dict[str, str] = field(default_factory=dict)
    selection_judged: bool = False

    @property
    def module(self) -> str | None:
        resource = module_of_path(self.request.url)
        return resource.module if resource is not None else None

    def fact(self) -> dict[str, str | int | None]:
        return {
            "item": self.request.name,
            "method": self.request.method,
            "module": self.module,
            "status": self.status,
            "verdict": self.verdict,
        }


@dataclass
class Sent:
    """What `--run` found: one row per request, findings, the checks it passed, evidence."""

    rows: list[Row]
    placed: list[Placed] = field(default_factory=list)
    fine: Fine = field(default_factory=dict)
    evidence: dict[str, list[Exchange]] = field(default_factory=dict)
    rotation: RotationRecord | None = None
    interruption: Interruption | None = None
    sent: int = 0
    failure: tuple[str, Exception] | None = None
    """(check id, exception) when sage200-doctor itself broke on the way: an internal error."""
