"""The Authorization header's shape: `Bearer` + one space + the token, nothing else.

Sage's Postman guide warns that without the space the API answers "Authorization has been
denied for this request."; the other shapes here (no scheme, two spaces, quotes, a line break,
`Bearer` twice) are the ways people paste a token wrong. Used by the live check, the Postman
lint and the triage of captures alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sage200_doctor.rules import Judgement

if TYPE_CHECKING:
    from sage200_doctor.http.answer import Answer

BEARER_SPACE = ("faq.postman.bearer-space",)
QUOTES = "\"'“”‘’"


def lint_authorization(value: str) -> list[str]:
    """Everything wrong with an Authorization value, as a person would describe it."""
    issues: list[str] = []
    if "\n" in value or "\r" in value:
        issues.append("it contains a line break")
    if value != value.strip():
        issues.append("it has leading or trailing whitespace")
    text = value.strip()
    if text[:6].lower() != "bearer":
        issues.append("the Bearer scheme is missing (the value must start with 'Bearer ')")
        return issues
    after = text[6:]
    if text[:6] != "Bearer":
        issues.append(f"the scheme is written {text[:6]!r}, not 'Bearer'")
    if not after or not after[0].isspace():
        issues.append("there is no space after 'Bearer'")
    elif after.startswith("  ") or after[0] != " ":
        issues.append("there is more than one space (or a tab) after 'Bearer'")
    if after.strip()[:6].lower() == "bearer":
        issues.append("'Bearer' appears twice")
    token = after.strip()
    if token[:1] in QUOTES or token[-1:] in QUOTES:
        issues.append("the token is wrapped in quotes")
    return issues


def refused_by_api(answer: Answer) -> bool:
    """The Web API's documented denial (401 and its `Message`), not the gateway's."""
    from sage200_doctor.http.sage import DENIED, api_message, denial

    return answer.status == 401 and (api_message(answer) == DENIED or denial(answer).layer == "api")


def judge_sent_header(value: str, answer: Answer | None) -> Judgement | None:
    """A malformed Authorization value and what the API said to it: refused with the documented
    symptom, a failure; accepted anyway (or not answered), a warning (other servers may not)."""
    from sage200_doctor.http.sage import status_phrase

    issues = lint_authorization(value)
    if not issues:
        return None
    listing = "; ".join(issues)
    if answer is not None and refused_by_api(answer):
        return Judgement(
            "header.authorization",
            "failed",
            f"The Authorization header is malformed: {listing}.",
            f"The API answered {status_phrase(answer)}: the documented symptom of a header "
            "that is not 'Bearer' + one space + the token.",
            BEARER_SPACE,
        )
    said = f"It was answered {status_phrase(answer)}." if answer is not None else ""
    return Judgement(
        "header.authorization",
        "warning",
        f"The Authorization header is malformed ({listing}).",
        f"{said} Other servers and proxies may refuse it.".strip(),
        BEARER_SPACE,
    )


def judge_well_formed(answer: Answer) -> Judgement | None:
    """A 'Bearer <token>' header the API still refuses (401): the token itself is not accepted."""
    from sage200_doctor.http.sage import status_phrase

    if answer.status != 401:
        return None
    return Judgement(
        "header.authorization",
        "failed",
        "The API refuses even a well-formed 'Bearer <token>' header.",
        f"{status_phrase(answer)}. The token itself is not accepted: it may be for another "
        "environment, or the user is not enabled for API access.",
        ("faq.errors.401",),
    )


def bare_token(header: str) -> str:
    """The token inside an Authorization value however it was mangled (spaces, quotes, schemes)."""
    text = header.strip()
    while text[:6].lower() == "bearer":
        text = text[6:].strip()
    return text.strip("\"'“”‘’ \r\n\t")
