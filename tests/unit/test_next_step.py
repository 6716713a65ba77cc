"""The next step fits the finding: a network finding's kind picks the guide.network step."""

from __future__ import annotations

import pytest

from sage200_doctor.engine.results import CheckResult, Exchange, Outcome
from sage200_doctor.guidance import guidance_for
from sage200_doctor.report.next_step import ANSWERED, FALLBACK, NETWORK_STEPS, next_step


def network_finding(kind: str | None, *, answered: bool = False) -> CheckResult:
    evidence = [Exchange("GET", "https://id.sage.com/", {}, status=502 if answered else None)]
    return CheckResult(
        "network.identity",
        30,
        "Identity server is reachable",
        Outcome.FAILED,
        "The identity server id.sage.com cannot be reached: …",
        details=f"kind: {kind}" if kind else "",
        guidance_ids=("guide.network",),
        evidence=evidence,
    )


def test_a_refused_proxy_is_told_to_check_the_proxy_not_dns() -> None:
    step = next_step(network_finding("proxy"))
    assert step.startswith("Check the proxy in HTTPS_PROXY / HTTP_PROXY")
    assert step != guidance_for("guide.network").steps[0]


@pytest.mark.parametrize(
    ("kind", "starts"),
    [
        ("dns", "Check both host names resolve"),
        ("refused", "Check the host and port"),
        ("connect-timeout", "Allow outbound HTTPS"),
        ("tls-untrusted", "If TLS inspection is in use"),
        ("tls-expired", "Check this computer's date"),
        ("tls-hostname", "Check the host name in the URL"),
    ],
)
def test_each_kind_gets_its_own_first_step(kind: str, starts: str) -> None:
    assert next_step(network_finding(kind)).startswith(starts)


def test_an_unknown_kind_gets_the_guidance_first_step() -> None:
    assert "other" not in NETWORK_STEPS
    assert next_step(network_finding("other")) == guidance_for("guide.network").steps[0]


def test_a_finding_with_an_answer_is_not_told_to_check_dns() -> None:
    assert next_step(network_finding(None, answered=True)) == ANSWERED


def test_other_guidance_keeps_its_first_step_and_none_falls_back() -> None:
    check = CheckResult("token.scope", 80, "t", Outcome.FAILED, guidance_ids=("faq.errors.401",))
    assert next_step(check) == guidance_for("faq.errors.401").steps[0]
    assert next_step(CheckResult("x", 1, "t", Outcome.FAILED)) == FALLBACK
