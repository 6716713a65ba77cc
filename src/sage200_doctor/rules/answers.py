"""What an answer to a data call means (GET sites, customers, any resource), judged by who
answered before what the status says.

The API gateway (Azure API Management) answers its own refusals as JSON `statusCode`/`message`:
a missing or invalid subscription key, and, where policies set them, rate limits and call-volume
quotas (403 or 429). The Sage 200 Web API behind it answers `Message`: 401 for an unacceptable
token or X-Site / X-Company, 403 when the user's role lacks the module, 404 for a path or verb
it does not have. Anything else (an HTML page, a 502/503/504 with no gateway JSON) came from
something in between: a proxy, the Native API tunnel, the network.
"""

from __future__ import annotations

import re

from sage200_doctor.http.answer import Answer
from sage200_doctor.http.sage import denial, likely_meaning, status_phrase
from sage200_doctor.rules import Judgement

SETUP = ("faq.setup.configure", "faq.setup.contact")
LIMITS = ("guide.gateway.limits",)
_LIMIT_WORDS = ("rate limit", "quota", "call volume")
_RESET = (
    re.compile(r"try again in (\d+) seconds?", re.IGNORECASE),
    re.compile(r"replenished in (\d{1,2}:\d{2}:\d{2})", re.IGNORECASE),
)


def gateway_limit(answer: Answer) -> str | None:
    """The gateway's own words when a 403/429 is its rate limit or quota, else None."""
    if answer.status not in (403, 429):
        return None
    refusal = denial(answer)
    if refusal.layer == "gateway" and any(w in refusal.message.lower() for w in _LIMIT_WORDS):
        return refusal.message
    if answer.status == 429 and refusal.layer != "api":
        return refusal.message or "HTTP 429 Too Many Requests"
    return None


def resets_in(answer: Answer, message: str) -> str:
    """When the limit lifts, as the gateway said (Retry-After, "Try again in N seconds",
    "replenished in HH:MM:SS"); '' when it did not say."""
    retry_after = answer.headers.get("retry-after", "").strip()
    if retry_after.isdigit():
        return f"in {retry_after} s"
    for pattern in _RESET:
        match = pattern.search(message)
        if match:
            value = match.group(1)
            return f"in {value} s" if value.isdigit() else f"in {value}"
    return ""


def judge_limit(answer: Answer, what: str, *, check: str) -> Judgement | None:
    """A gateway rate limit or quota: the subscription's allowance, not the user's role."""
    message = gateway_limit(answer)
    if message is None:
        return None
    kind = "call-volume quota" if "quota" in message.lower() else "rate limit"
    when = resets_in(answer, message)
    reset = f" It resets {when}." if when else " It did not say when it resets."
    verb = "stayed limited by" if answer.retries else "hit"
    return Judgement(
        check,
        "failed",
        f"{what} {verb} the API gateway's {kind} ({status_phrase(answer)}).",
        detail=f'The gateway said: "{message}".{reset} This is the subscription\'s allowance '
        "at API Management, not the Sage 200 user's role or module access: wait, then run "
        "again; if it keeps happening, ask Developer Services about the subscription's limits.",
        guidance=LIMITS,
    )


def judge_data_answer(
    answer: Answer, what: str, *, check: str, not_found_hint: str | None = None
) -> Judgement:
    """Why `what` (a data call) did not answer with data. `not_found_hint`: what a probe of the
    other edition's path found, for a 404."""
    said = status_phrase(answer)
    if answer.problem is not None:
        return Judgement(
            check,
            "failed",
            f"{what} got no answer: {answer.problem.sentence}",
            "",
            ("guide.network",),
        )
    limit = judge_limit(answer, what, check=check)
    if limit is not None:
        return limit
    if answer.status == 401:
        return Judgement(
            check,
            "failed",
            f"{what} was denied ({said}).",
            "The token was not accepted for this request: it expired, or X-Site / X-Company "
            "are missing, invalid or not accessible to the signed-in user.",
            ("faq.errors.401", "faq.postman.site-company"),
        )
    if answer.status == 403:
        return Judgement(
            check,
            "failed",
            f"{what} was forbidden ({said}).",
            "The signed-in user's role lacks the module behind this endpoint (customers need "
            "Sales Ledger).",
            ("faq.errors.403",),
        )
    if answer.status == 404:
        hint = not_found_hint or (
            "Compare the URL with the API reference; the endpoint may not exist in this version."
        )
        return Judgement(
            check, "failed", f"{what} was not found ({said}).", hint, ("faq.errors.404",)
        )
    if answer.status is not None and answer.status >= 500:
        return Judgement(
            check,
            "failed",
            f"{what} failed on the server side ({said}).",
            likely_meaning(answer),
            SETUP,
        )
    return Judgement(
        check,
        "failed",
        f"{what} answered unexpectedly ({said}).",
        likely_meaning(answer),
        ("faq.errors.404",),
    )


def judge_gateway_key(answer: Answer, *, key_sent: bool, live: bool = True) -> Judgement | None:
    """The gateway's verdict on the subscription key, from its own JSON (None: no objection).
    `live`: the key came from the settings (else from a recorded request)."""
    refusal = denial(answer)
    said = status_phrase(answer)
    check = "gateway.subscription_key"
    if refusal.key_invalid:
        return Judgement(
            check,
            "failed",
            "The gateway rejected the subscription key as invalid.",
            f"{said}. Copy the primary or secondary key of an active subscription from your "
            "developer account into SAGE200_SUBSCRIPTION_KEY.",
            ("faq.postman.subscription-key",),
        )
    if refusal.key_missing and key_sent:
        return Judgement(
            check,
            "failed",
            "The gateway says the subscription key is missing although one "
            + ("is configured." if live else "was sent."),
            f"{said}. The header may be stripped by a proxy, or sent under another name (it "
            "must be ocp-apim-subscription-key).",
            ("faq.postman.subscription-key",),
        )
    if refusal.key_missing:
        return Judgement(
            check,
            "failed",
            "The gateway requires a subscription key and none "
            + ("is configured." if live else "was sent."),
            f"{said}. Set SAGE200_SUBSCRIPTION_KEY; it is sent as the "
            "ocp-apim-subscription-key header.",
            ("faq.postman.subscription-key",),
        )
    return None


def judge_answered_in_between(host: str, said: str, evidence: str) -> Judgement:
    """An answer from the API host that neither API Management nor the Web API wrote, and
    `evidence` that the gateway itself did not answer either: something in front of it did."""
    return Judgement(
        "network.api",
        "failed",
        f"The API gateway {host} was not reached: something in between answered ({said}).",
        detail="Neither API Management (statusCode/message JSON) nor the Sage 200 API (Message) "
        f"wrote that answer, {evidence}: a proxy, firewall, VPN or load balancer in front of the "
        "gateway answers instead of it. Check HTTPS_PROXY / NO_PROXY and ask whoever runs the "
        "proxy (docs/network.md).",
        guidance=("guide.network",),
    )


def unsigned_failure(answer: Answer) -> bool:
    """A server-side failure with a body neither API Management nor the Web API wrote."""
    return answer.status is not None and answer.status >= 500 and denial(answer).layer == "unknown"
