"""Answers read right: who answered decides what an answer means, and the clock is not the truth.

- A 403 or 429 from API Management's rate-limit or quota policy is the subscription's allowance,
  never the user's role: it names the limit and when it resets (guide.gateway.limits). The Sage
  200 API's own 403 (the role lacks Sales Ledger) is still faq.errors.403.
- When this machine's clock says the token has expired, the API is asked first: if it accepts
  the token, or its Date header says the token is still valid, the clock is wrong (guide.clock).
- A proxy's error page on the API host's first request means the gateway was never reached
  (network.api, exit 3); the gateway's own 504 for a site behind a broken tunnel does not.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.conftest import CliRun, run_cli
from tests.e2e.hostile_server import Reply, Request, hostile_server

pytestmark = pytest.mark.e2e

Doctor = Callable[..., CliRun]
QUOTA = "Out of call volume quota. Quota will be replenished in 01:00:00."


def demo(doctor: Doctor, scenario: str) -> CliRun:
    run = doctor("demo", "--scenario", scenario)
    assert "Traceback" not in run.stdout + run.stderr, run.stdout + run.stderr
    return run


def guidance_of(entry: dict[str, object]) -> list[str]:
    return [g["id"] for g in entry["guidance"]]  # type: ignore[attr-defined, index]


def test_a_used_up_quota_is_the_gateways_limit_not_the_users_role(doctor: Doctor) -> None:
    run = demo(doctor, "gateway-quota")
    root = run.check(run.report["root_cause"]["check"])
    assert root["id"] == "gateway.subscription_key"
    assert guidance_of(root) == ["guide.gateway.limits"]
    assert "call-volume quota" in root["summary"]
    assert QUOTA in root["summary"]
    assert "It resets in 3600 s." in root["details"]
    assert "not the Sage 200 user's role" in root["details"]
    assert run.code == 1


def test_a_rate_limit_that_never_lifts_names_the_wait(doctor: Doctor) -> None:
    run = demo(doctor, "gateway-rate-limit")
    root = run.check(run.report["root_cause"]["check"])
    assert root["id"] == "gateway.subscription_key"
    assert guidance_of(root) == ["guide.gateway.limits"]
    assert "stayed limited by the API gateway's rate limit" in root["summary"]
    assert "Try again in 1 seconds." in root["summary"]
    assert "It resets in 1 s." in root["details"]


def test_a_quota_on_customers_is_not_reported_as_a_missing_module(doctor: Doctor) -> None:
    run = demo(doctor, "customers-quota")
    listed = run.check("customers.list")
    assert run.report["root_cause"]["check"] == "customers.list"
    assert guidance_of(listed) == ["guide.gateway.limits"]
    assert "faq.errors.403" not in guidance_of(listed)
    assert "call-volume quota" in listed["summary"]
    assert "in 3600 s" in listed["details"]


def test_the_apis_own_403_is_still_the_users_role(doctor: Doctor) -> None:
    run = demo(doctor, "customers-forbidden")
    listed = run.check("customers.list")
    assert guidance_of(listed) == ["faq.errors.403"]
    assert "forbidden" in listed["summary"]
    assert "Sales Ledger" in listed["details"]


def test_sites_list_reads_a_gateway_limit_right(tmp_path: Path) -> None:
    # The key probe (no token) goes through; GET sites with the token meets the quota.
    def sites(request: Request) -> Reply | None:
        if "bearer" not in request.headers.get("authorization", "").lower():
            return None
        return Reply(403, {"statusCode": 403, "message": QUOTA})

    with hostile_server({"sites": sites}) as server:
        (tmp_path / "site.env").write_text(server.env_lines(), encoding="utf-8")
        run = run_cli(["run", "--env", str(tmp_path / "site.env")], cwd=tmp_path)
    listed = run.check("sites.list")
    assert run.report["root_cause"]["check"] == "sites.list", run.stdout
    assert guidance_of(listed) == ["guide.gateway.limits"]
    assert "GET sites hit the API gateway's call-volume quota" in listed["summary"]
    assert "It resets in 01:00:00." in listed["details"]


def test_a_wrong_clock_is_a_warning_not_an_expired_token(doctor: Doctor) -> None:
    run = demo(doctor, "clock-ahead")
    claims = run.check("token.claims")
    assert claims["outcome"] == "warning", claims
    assert guidance_of(claims) == ["guide.clock"]
    assert "ahead of the API's" in claims["summary"]
    assert "but the API accepted it" in claims["summary"]
    skew = int(claims["summary"].split("clock is ", 1)[1].split(" s", 1)[0])
    assert 7100 <= skew <= 7300  # two hours, give or take the time the run took
    assert "Date header" in claims["details"]
    assert run.check("token.expiry")["outcome"] == "passed"  # counted by the API's clock
    assert run.code == 0


def test_a_token_that_really_expired_is_still_expired(doctor: Doctor) -> None:
    run = demo(doctor, "token-expired")
    claims = run.check("token.claims")
    assert claims["outcome"] == "failed"
    assert claims["summary"].startswith("The access token expired")
    assert "The API agrees: GET sites with the token answered HTTP 401" in claims["details"]
    assert "guide.clock" not in guidance_of(claims)


def test_a_proxys_error_page_means_the_gateway_was_never_reached(doctor: Doctor) -> None:
    run = demo(doctor, "proxy-error-page")
    api = run.check("network.api")
    assert run.report["root_cause"]["check"] == "network.api"
    assert api["outcome"] == "failed"
    assert "was not reached: something in between answered (HTTP 502 Bad Gateway" in api["summary"]
    assert guidance_of(api) == ["guide.network"]
    assert run.code == 3


@pytest.mark.parametrize("scenario", ["tunnel-down", "tunnel-down+key-optional"])
def test_the_gateways_own_504_is_the_tunnel_not_the_network(doctor: Doctor, scenario: str) -> None:
    run = demo(doctor, scenario)
    assert run.check("network.api")["outcome"] == "passed"
    sites = run.check("sites.list")
    assert run.report["root_cause"]["check"] == "sites.list"
    assert "HTTP 504" in sites["summary"]
    assert "faq.setup.configure" in guidance_of(sites)
    assert run.code == 1


def test_with_no_key_required_the_root_504_is_placed_behind_the_gateway(doctor: Doctor) -> None:
    run = demo(doctor, "tunnel-down+key-optional")
    api = run.check("network.api")
    assert "came from behind the gateway" in api["summary"]
    assert "HTTP 404" in api["summary"]  # API Management's own answer for a path no API serves
