"""gateway.subscription_key: does API Management accept the developer key, or need none?"""

from __future__ import annotations

from sage200_doctor.engine.diagnosis import Diagnosis
from sage200_doctor.engine.registry import check, fail, report
from sage200_doctor.engine.results import Substitute
from sage200_doctor.http.sage import denial, status_phrase
from sage200_doctor.rules.answers import judge_gateway_key, judge_limit

KEY_GUIDANCE = ("faq.postman.subscription-key",)


def _ask_gateway_ahead(run: Diagnosis) -> bool:
    return run.get_ahead("sites", authorization="", with_company=False)


@check(
    "gateway.subscription_key",
    order=50,
    title="Gateway accepts the subscription key",
    verifies="the gateway accepts the subscription key, or does not require one",
    depends=("network.api",),
    guidance=KEY_GUIDANCE,
    ahead=_ask_gateway_ahead,
)
def check_gateway_accepts_subscription_key(run: Diagnosis) -> str:
    # No Authorization header on purpose: whoever refuses first tells us which layer spoke.
    # A key error comes from the gateway (statusCode/message); once past the gateway, the
    # Sage 200 API itself denies the request (Message), which proves the key was accepted.
    answer = run.get("sites", authorization="", with_company=False)
    if answer.problem is not None:
        fail(
            f"The gateway could not be asked: {answer.problem.sentence}",
            guidance=("guide.network",),
        )
    refusal = denial(answer)
    configured = bool(run.settings.subscription_key)
    judgement = judge_gateway_key(answer, key_sent=configured) or judge_limit(
        answer, "GET sites", check="gateway.subscription_key"
    )
    if judgement is not None:
        if configured:
            _carry_on_without_the_key(run)
        report(judgement)
    if refusal.layer == "unknown":
        # Neither API Management nor the Sage 200 API spoke (a proxy page, a redirect, a 5xx):
        # nothing refused the key, but nothing proves it reached the API either.
        return f"Nothing refused the subscription key, but the answer does not show the request reached the API ({status_phrase(answer)})."
    run.facts["subscription key"] = "accepted" if configured else "not required"
    if configured:
        return f"The gateway accepted the subscription key (the request reached the API: {status_phrase(answer)})."
    return (
        "The gateway does not require a subscription key: a request without one reached the "
        f"API ({status_phrase(answer)})."
    )


def _carry_on_without_the_key(run: Diagnosis) -> None:
    """The configured key was refused: if the gateway lets a request without any key through
    (its own policy makes the key optional), the run carries on without one."""
    probe = run.get("sites", authorization="", with_key=False, with_company=False)
    if probe.problem is None and denial(probe).layer == "api":
        run.send_key = False
        run.substitute(
            Substitute(
                replaced="the configured subscription key",
                by="no subscription key",
                proof=f"GET sites without a key reached the API ({status_phrase(probe)})",
                set_by="gateway.subscription_key",
            )
        )
