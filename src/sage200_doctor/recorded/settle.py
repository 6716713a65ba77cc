"""The end of a capture: what only the whole capture can say, and a sentence for every check.

Reachability (did any request to a host get an answer), the Authorization header when no
request carried one (not sent, or left out by a sanitized export), the documented shapes, and
for each check either what was seen when all is well or why the capture could not show it.
"""

from __future__ import annotations

from sage200_doctor.engine.results import Outcome
from sage200_doctor.rules import Judgement
from sage200_doctor.rules.schema import judge_shapes

from .judge import GUIDE_NETWORK, CaptureJudge, Reach
from .ledger import Ledger

NO_SETTINGS = (
    "A capture carries no settings: what the client sent is judged by the checks that use it."
)
SANITIZED = (
    "The capture was sanitized: its API requests carry no Authorization header although the "
    "API answered them (Chrome 130 and later leave out Authorization and Cookie headers unless "
    "you choose 'Export HAR (with sensitive data)'). How the header was written cannot be "
    "judged; export the capture again with sensitive data to judge it."
)


def settle(judge: CaptureJudge, *, chrome: bool) -> None:
    """Judge what needs the whole capture and give every check its sentence.

    `chrome`: the capture was written by Chrome or Edge DevTools (which sanitize by default)."""
    judge.finish()
    _summaries(judge)
    for reach in judge.reach.values():
        _reachability(judge.ledger, reach)
    _authorization_header(judge, chrome=chrome)
    _shapes(judge)


def _reachability(ledger: Ledger, reach: Reach) -> None:
    if not reach.unanswered:
        return
    total = reach.answered + reach.unanswered
    what = "Sage ID" if reach.check == "network.identity" else "the API"
    sentence = reach.problem.sentence if reach.problem else ""
    if reach.answered:
        judgement = Judgement(
            reach.check,
            "warning",
            f"{reach.unanswered} of {total} request(s) to {what} got no answer in the capture.",
            f"The first: {sentence} The others were answered, so {what} was reachable.",
            GUIDE_NETWORK,
        )
    else:
        judgement = Judgement(
            reach.check,
            "failed",
            f"None of the {total} request(s) to {what} in the capture got an answer.",
            sentence,
            GUIDE_NETWORK,
        )
    ledger.judged(judgement, reach.first_unanswered, times=reach.unanswered)


def _authorization_header(judge: CaptureJudge, *, chrome: bool) -> None:
    ledger = judge.ledger
    header = ledger["header.authorization"]
    without = sum(judge.unauthorized.values())
    if without:
        ledger.fact("header.authorization", "API requests without an Authorization header", without)
    if header.observations:
        return
    if ledger["token.refresh"].outcome() is Outcome.FAILED:
        header.unseen = (
            "No API request carried an Authorization header: the token request failed "
            "(token.refresh), so there was no access token to send."
        )
        return
    sanitized = judge.unauthorized["answered"] > 0 or (chrome and not judge.credentials_recorded)
    if sanitized and without:
        header.unseen = SANITIZED
        ledger[
            "token.claims"
        ].unseen = (
            "No access token was sent in the capture's API requests (the capture was sanitized)."
        )
        return
    if judge.unauthorized["denied"]:
        ledger.judged(
            Judgement(
                "header.authorization",
                "failed",
                "No API request in the capture carried an Authorization header, and the API "
                "denied them.",
                "Send 'Authorization: Bearer <access token>' with every API request. If the "
                "integration does send it, the capture left it out: export it again with "
                "sensitive data.",
                ("faq.errors.401", "faq.postman.bearer-space"),
            ),
            judge.first_denied_without_header,
            times=judge.unauthorized["denied"],
        )


def _shapes(judge: CaptureJudge) -> None:
    problems = judge.data.shape_problems
    if not problems:
        return
    lines = [problem.line(judge.redactor.excerpt) for problem, _ in problems]
    judge.ledger.judged(judge_shapes(lines), problems[0][1])


def _summaries(judge: CaptureJudge) -> None:
    ledger = judge.ledger
    for check in ("config.complete", "config.values"):
        ledger[check].unseen = NO_SETTINGS
    ledger["token.expiry"].unseen = (
        "A capture does not say when the refresh token or client secret expire; the access "
        "token's expiry at each request is judged by token.claims."
    )
    for reach in judge.reach.values():
        hosts = ", ".join(reach.hosts)
        ledger[reach.check].summary = f"{reach.answered} request(s) answered by {hosts}."
        ledger[reach.check].unseen = "The capture holds no request to " + (
            "Sage ID." if reach.check == "network.identity" else "the Sage 200 API."
        )
    _gateway(judge)
    _tokens(judge)
    _data(judge)


def _gateway(judge: CaptureJudge) -> None:
    ledger, counts = judge.ledger, judge.gateway
    check = ledger["gateway.subscription_key"]
    if counts["accepted"]:
        check.summary = (
            f"The gateway accepted the subscription key: {counts['accepted']} request(s) with it "
            "reached the API."
        )
    elif counts["not required"]:
        check.summary = (
            f"The gateway does not require a subscription key: {counts['not required']} "
            "request(s) without one reached the API."
        )
    check.unseen = (
        "No answer in the capture shows whether the gateway accepted the subscription key "
        "(none reached the API, and none refused the key)."
    )
    if counts["accepted"] or counts["not required"]:
        ledger.fact(
            "gateway.subscription_key",
            "subscription key",
            "accepted" if counts["accepted"] else "not required",
        )


def _tokens(judge: CaptureJudge) -> None:
    ledger, tokens = judge.ledger, judge.tokens
    ledger["token.refresh"].summary = "Sage ID answered the token request(s) with an access token."
    ledger[
        "token.refresh"
    ].unseen = (
        "The capture holds no token request: the tokens used were obtained before it started."
    )
    ledger["token.claims"].summary = (
        f"{tokens.distinct} access token(s) in {tokens.used} request(s): JWTs for "
        f"{tokens.audience}, none expired when used."
    )
    if tokens.used == 0 and tokens.distinct:
        ledger["token.claims"].summary = "The token(s) Sage ID issued are JWTs for " + (
            f"{tokens.audience} (none was seen in use)."
        )
    ledger["token.claims"].unseen = "No access token was seen in the capture."
    ledger["token.scope"].summary = "The granted scope includes offline_access."
    ledger["token.scope"].unseen = "No token or token answer in the capture shows the scope."
    ledger[
        "header.authorization"
    ].summary = "Every Authorization header in the capture is 'Bearer' + one space + the token."
    ledger["header.authorization"].unseen = "No API request in the capture carried one."


def _data(judge: CaptureJudge) -> None:
    ledger, data = judge.ledger, judge.data
    ledger["sites.list"].summary = data.sites_summary or "GET sites answered."
    ledger["sites.list"].unseen = "The capture holds no GET sites answer."
    pairs = ", ".join(f"{site} / {company}" for site, company in judge.seen.pairs)
    ledger["sites.selection"].summary = f"X-Site / X-Company sent are listed by GET sites: {pairs}."
    ledger["sites.selection"].unseen = (
        "The capture holds no GET sites answer to compare X-Site / X-Company with."
        if judge.seen.pairs
        else "No request in the capture sent X-Site / X-Company."
    )
    answered = ledger["customers.list"].observations
    ledger["customers.list"].summary = f"{answered} GET customers request(s) answered."
    ledger["customers.list"].unseen = "The capture holds no GET customers answer."
    ledger[
        "customers.filter"
    ].summary = "$filter=reference eq '…' returned exactly the matching customer."
    ledger["customers.filter"].unseen = "The capture holds no $filter=reference eq '…' request."
    conformance = judge.conformance.summary()
    ledger["customers.query_conformance"].summary = conformance or "Queries answered."
    ledger[
        "customers.query_conformance"
    ].unseen = "The capture holds no sample ($orderby=id asc with $top) to judge queries against."
    readable = len(data.readings)
    ledger["api.resources"].summary = f"{readable} resource(s) read: all readable."
    ledger["api.resources"].unseen = "The capture holds no request to other modules' resources."
    ledger["api.schema"].summary = f"{data.validated} answer(s) match the documented shapes."
    ledger["api.schema"].unseen = "The capture holds no sites or customers answer to validate."
