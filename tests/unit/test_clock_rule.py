"""The clock rule: a token the local clock calls expired is judged by the API's answer and clock."""

from __future__ import annotations

import email.utils

import pytest

from sage200_doctor.http import oauth
from sage200_doctor.http.answer import Answer
from sage200_doctor.rules.token import ApiClock, http_date, judge_clock, judge_expiry

NOW = 1_800_000_000.0
EXP = NOW - 3600  # an hour ago by this machine's clock
DENIED = '{"Message": "Authorization has been denied for this request."}'


def _answer(status: int, body: str = "[]", date: float | None = None) -> Answer:
    headers = {"content-type": "application/json"}
    if date is not None:
        headers["date"] = email.utils.formatdate(date, usegmt=True)
    return Answer(url="https://api.test/sites", status=status, headers=headers, text=body)


def test_the_api_accepting_the_token_means_the_clock_is_wrong() -> None:
    api = ApiClock.of(_answer(200, date=NOW - 7200))
    judgement = judge_clock(EXP, local_now=NOW, api=api)
    assert judgement is not None
    assert (judgement.check, judgement.outcome, judgement.guidance) == (
        "token.claims",
        "warning",
        ("guide.clock",),
    )
    assert judgement.summary.startswith("This machine's clock is 7200 s (2.0 h) ahead")
    assert "but the API accepted it" in judgement.summary
    assert "60 min left" in judgement.detail


def test_the_apis_clock_alone_can_say_the_token_is_still_valid() -> None:
    # Refused for another reason (401), but by the API's clock the token has not expired.
    api = ApiClock.of(_answer(401, DENIED, date=NOW - 7200))
    judgement = judge_clock(EXP, local_now=NOW, api=api)
    assert judgement is not None
    assert "its clock says it is still valid" in judgement.summary


def test_a_token_the_api_refuses_and_its_clock_calls_expired_has_expired() -> None:
    api = ApiClock.of(_answer(401, DENIED, date=NOW))
    assert api.accepted is False
    assert judge_clock(EXP, local_now=NOW, api=api) is None
    expired = judge_expiry(EXP - NOW, fix="refresh", api=api)
    assert expired is not None
    assert expired.outcome == "failed"
    assert "The API agrees: GET sites with the token answered HTTP 401" in expired.detail


def test_without_a_date_only_acceptance_speaks_for_the_clock() -> None:
    accepted = judge_clock(EXP, local_now=NOW, api=ApiClock.of(_answer(200)))
    assert accepted is not None
    assert "cannot be measured" in accepted.detail
    assert judge_clock(EXP, local_now=NOW, api=ApiClock.of(_answer(401, DENIED))) is None


@pytest.mark.parametrize(
    ("status", "body", "accepted"),
    [
        (200, "[]", True),
        (401, DENIED, False),
        (
            401,
            '{"statusCode": 401, "message": "Access denied due to missing subscription key."}',
            None,
        ),
        (504, "<html>Gateway Timeout</html>", None),
    ],
)
def test_only_the_web_api_speaks_for_the_token(status: int, body: str, accepted: object) -> None:
    assert ApiClock.of(_answer(status, body)).accepted is accepted


@pytest.mark.parametrize("value", ["", "yesterday", "Tue, 99 Foo 2026 25:61:00 GMT", "0"])
def test_a_date_header_that_is_no_date_is_none(value: str) -> None:
    assert http_date(value) is None


def test_a_known_skew_counts_the_time_left_by_the_apis_clock() -> None:
    claims: dict[str, object] = {"exp": EXP}
    assert oauth.seconds_left(claims, now=NOW) == -3600
    claims[oauth.CLOCK_SKEW_KEY] = 7200.0
    assert oauth.seconds_left(claims, now=NOW) == 3600
