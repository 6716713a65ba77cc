"""Hostile answers against the real CLI (D8): never exit 5, never a traceback, always a report.

Each answer here once ended a run in exit 5 ("a bug in sage200-doctor"): JSON nested ~990 deep
(a 2 KB body), integers of more than 4,300 digits, an `expires_in` of 1e999, NaN or 10^400, a
malformed `jwks_uri`, a rotated refresh token with a lone surrogate. Each must now be a finding
of the check that asked, with report.json written and valid.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sage200_doctor.report.json import validate_report
from tests.e2e.conftest import CliRun, run_cli
from tests.e2e.hostile_server import REFRESH_TOKEN, Reply, Request, Route, hostile_server, mint_jwt

pytestmark = pytest.mark.e2e

DEEP = "[" * 990 + "]" * 990
DIGITS = "9" * 5000


def run_against(routes: dict[str, Route], tmp_path: Path, *only: str) -> tuple[CliRun, str]:
    """`sage200-doctor run --only …` against a hostile server; the run and its env file after."""
    with hostile_server(routes) as server:
        env_file = tmp_path / "site.env"
        env_file.write_text(server.env_lines(), encoding="utf-8")
        args = ["run", "--env", str(env_file), "--report-dir", str(tmp_path / "reports")]
        for check_id in only:
            args += ["--only", check_id]
        run = run_cli(args, cwd=tmp_path)
    output = run.stdout + run.stderr
    assert "Traceback" not in output, output
    assert run.code in (0, 1, 2, 3), output
    assert validate_report(run.report) == []
    assert not [c["id"] for c in run.report["checks"] if c["outcome"] == "error"], output
    return run, env_file.read_text(encoding="utf-8")


def token_text(request: Request, **fields: str) -> Reply:
    """A token answer whose fields are raw JSON text (numbers JSON cannot hold, escapes)."""
    parts = {"access_token": json.dumps(mint_jwt(request.base + "/")), **fields}
    return Reply(200, "{" + ", ".join(f'"{k}": {v}' for k, v in parts.items()) + "}")


@pytest.mark.parametrize("expires_in", ["1e999", "NaN", "1" + "0" * 400])
def test_a_lifetime_that_is_no_time_is_ignored(expires_in: str, tmp_path: Path) -> None:
    run, _ = run_against(
        {"token": lambda request: token_text(request, expires_in=expires_in)},
        tmp_path,
        "token.refresh",
    )
    assert run.check("token.refresh")["outcome"] == "passed"
    assert run.code == 0


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (DEEP, "nested more than 64 levels deep"),
        ('{"access_token": "a.b.c", "expires_in": ' + DIGITS + "}", "a number with more digits"),
    ],
)
def test_a_token_answer_no_parser_should_trust_is_a_finding(
    body: str, said: str, tmp_path: Path
) -> None:
    run, _ = run_against({"token": lambda request: Reply(200, body)}, tmp_path, "token.refresh")
    refresh = run.check("token.refresh")
    assert refresh["outcome"] == "failed"
    assert said in refresh["summary"]
    assert run.code == 1


def test_a_rotated_token_with_a_lone_surrogate_is_refused_and_nothing_is_saved(
    tmp_path: Path,
) -> None:
    rotated = '"\\ud800rotated-token"'  # JSON text: a lone surrogate, which UTF-8 cannot hold
    run, env_after = run_against(
        {"token": lambda request: token_text(request, refresh_token=rotated)},
        tmp_path,
        "token.refresh",
    )
    refresh = run.check("token.refresh")
    assert refresh["outcome"] == "failed"
    assert "a refresh_token that is not a token" in refresh["summary"]
    assert "Nothing from this answer was used or saved" in refresh["details"]
    assert f"SAGE200_REFRESH_TOKEN='{REFRESH_TOKEN}'" in env_after  # the credential is intact
    assert run.code == 1


@pytest.mark.parametrize(
    "jwks_uri", ["http://[::1/jwks", "http://127.0.0.1:abc/jwks", "http://\\u0000/jwks", "42"]
)
def test_a_malformed_jwks_uri_leaves_the_signature_unverified(
    jwks_uri: str, tmp_path: Path
) -> None:
    def discovery(request: Request) -> Reply:
        issuer = json.dumps(request.base + "/")
        uri = jwks_uri if jwks_uri == "42" else json.dumps(jwks_uri).replace("\\\\u", "\\u")
        return Reply(200, f'{{"issuer": {issuer}, "jwks_uri": {uri}}}')

    run, _ = run_against({"discovery": discovery}, tmp_path, "token.claims")
    claims = run.check("token.claims")
    assert claims["outcome"] == "passed", claims
    assert claims["facts"]["signature"].startswith("not verified")


def test_an_answer_nested_990_deep_is_malformed_json(tmp_path: Path) -> None:
    run, _ = run_against(
        {"sites": lambda request: Reply(200, DEEP) if request.authorized else None},
        tmp_path,
        "sites.list",
    )
    sites = run.check("sites.list")
    assert sites["outcome"] == "failed"
    assert "malformed JSON (nested more than 64 levels deep)" in sites["summary"]
