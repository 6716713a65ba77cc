"""What one answer to `GET {resource}` says about reading that resource (check api.resources).

A pure rule over what came back (an `Answer`, which a recorded capture can be turned into): who
answered (API Management's `statusCode`/`message` JSON, or the Sage 200 Web API), the status,
and what Sage's published reference says about the resource (module, Professional-only, the date
it was added). It never relies on the wording of a message, only shows it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sage200_doctor import catalogue
from sage200_doctor.catalogue import ROLE_SETTING, Resource
from sage200_doctor.http.sage import denial, likely_meaning, status_phrase
from sage200_doctor.http.session import Answer

from . import Judgement

CHECK_ID = "api.resources"
Outcome = catalogue.ReadOutcome
GUIDANCE: dict[Outcome, tuple[str, ...]] = {
    "readable": (),
    "forbidden": ("faq.errors.403",),
    "not-found": ("faq.errors.404",),
    "denied": ("faq.errors.401",),
    "bad-request": ("faq.query.odata",),
    "server-error": ("faq.setup.configure", "faq.setup.contact"),
    "gateway-refused": ("faq.postman.subscription-key",),
    "no-answer": ("guide.network",),
    "unexpected": ("faq.errors.404",),
}
_GRANT = f"grant it in Sage 200 ({ROLE_SETTING})"
_BY_STATUS: dict[int, Outcome] = {
    400: "bad-request",
    401: "denied",
    403: "forbidden",
    404: "not-found",
}


@dataclass(frozen=True)
class ResourceReading:
    """How reading one resource went: the cell of the module matrix."""

    resource: str
    module: str | None
    """The catalogue module key; None for a name Sage's reference does not have."""
    outcome: Outcome
    status: int | None
    reason: str
    guidance: tuple[str, ...]

    @property
    def readable(self) -> bool:
        return self.outcome == "readable"

    @property
    def label(self) -> str:
        """`sop_orders (SOP)`, for findings."""
        if self.module is None:
            return f"{self.resource} (not in Sage's reference)"
        return f"{self.resource} ({catalogue.module(self.module).title})"

    def fact(self) -> dict[str, str | int | None]:
        return {
            "resource": self.resource,
            "module": self.module,
            "outcome": self.outcome,
            "status": self.status,
            "reason": self.reason,
        }


def read(name: str, answer: Answer, *, edition: str | None) -> ResourceReading:
    """Classify the answer to `GET {name}` and say why, for a site of `edition` (None: unknown)."""
    known = catalogue.find(name)
    outcome = classify(answer, known)
    return ResourceReading(
        resource=name,
        module=known.module if known else None,
        outcome=outcome,
        status=answer.status,
        reason=_reason(name, known, outcome, answer, edition),
        guidance=GUIDANCE[outcome],
    )


def classify(answer: Answer, known: Resource | None) -> Outcome:
    if answer.problem is not None:
        return "no-answer"
    if denial(answer).layer == "gateway":
        return "gateway-refused"
    status = answer.status or 0
    if 200 <= status < 300:
        return "readable" if _is_collection_body(answer, known) else "unexpected"
    if status >= 500:
        return "server-error"
    return _BY_STATUS.get(status, "unexpected")


def _is_collection_body(answer: Answer, known: Resource | None) -> bool:
    body = answer.json
    if known is None:
        return isinstance(body, list | dict)
    return isinstance(body, list) if known.returns == "list" else isinstance(body, dict)


def judge(name: str, answer: Answer, *, edition: str | None, required: bool) -> Judgement | None:
    """A finding for a resource that cannot be read: failed when the integration needs it
    (`required`: listed in SAGE200_RESOURCES), else a warning. None when it is readable."""
    reading = read(name, answer, edition=edition)
    if reading.readable:
        return None
    return Judgement(
        check=CHECK_ID,
        outcome="failed" if required else "warning",
        summary=f"GET {reading.label} is {reading.outcome.replace('-', ' ')}.",
        detail=reading.reason,
        guidance=reading.guidance,
    )


def _reason(
    name: str, known: Resource | None, outcome: Outcome, answer: Answer, edition: str | None
) -> str:
    if outcome == "readable":
        return _readable(answer)
    if outcome == "no-answer":
        assert answer.problem is not None
        return answer.problem.sentence
    said = status_phrase(answer)
    if outcome == "forbidden":
        return f"{said}: {_forbidden(name, known)}"
    if outcome == "not-found":
        return f"{said}: {_not_found(name, known, edition)}"
    return f"{said}: {_other(outcome, answer)}"


def _readable(answer: Answer) -> str:
    body = answer.json
    if isinstance(body, list):
        return "readable" if body else "readable (no records in this company)"
    return "readable (one object)"


def _forbidden(name: str, known: Resource | None) -> str:
    if known is None:
        return f"the Sage 200 user's role lacks the module behind {name}; {_GRANT}."
    module = catalogue.module(known.module)
    if module.access_documented:
        needs = f"{module.access_area}, which {name} needs"
    else:
        needs = f"the {module.title} module (look for {module.access_area})"
    return f"the Sage 200 user's role lacks {needs}; {_GRANT}."


def _not_found(name: str, known: Resource | None, edition: str | None) -> str:
    if known is None:
        hint = catalogue.did_you_mean(name)
        return (
            f"{name} is not an endpoint in Sage's published API reference"
            + (f" (did you mean {hint}?)" if hint else "")
            + "; check the name against the URL your integration calls."
        )
    if known.professional_only and edition == "standard":
        return f"{name} is Professional-only: Sage 200 Standard does not have it."
    if edition == "standard":
        return (
            f"{name} is in Sage's Professional reference, and Sage publishes no Standard one: "
            "Sage 200 Standard (always on the current version) may not offer it."
        )
    if known.added is not None:
        return (
            f"Sage added {name} on {known.added.isoformat()}: this site's Sage 200 version is "
            "probably older. On-premise Professional is upgraded by the customer's business "
            "partner; the endpoint appears after an upgrade."
        )
    return (
        f"{name} is in every Professional version Sage's changelog covers: compare the URL and "
        "the edition path with the API reference."
    )


def _other(outcome: Outcome, answer: Answer) -> str:
    if outcome == "gateway-refused":
        return (
            f"API Management refused the request before it reached Sage 200 "
            f"({denial(answer).message.strip()})."
        )
    if outcome == "denied":
        return (
            "denied although the token, X-Site and X-Company worked for other requests: the "
            "token may have expired during the run, or the user lacks a permission this "
            "endpoint checks (Sage answers some permission refusals with 401)."
        )
    if outcome == "bad-request":
        return "the API rejected a plain $top=1 query on this resource."
    meaning = likely_meaning(answer)
    if meaning:
        return meaning
    if outcome == "server-error":
        return "the service behind the gateway failed."
    if answer.ok:
        return f"a collection answers 200 with JSON records, not {answer.describe_body()}."
    return "the API documents no such answer to a GET of a collection."
