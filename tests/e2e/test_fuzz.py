"""Fuzzing the two things a user does not control: what is in the env file, what servers answer.

Hypothesis writes env files (known and unknown keys, every kind of quoting, control characters,
bytes that are not UTF-8, URLs no client can use, numbers that are no numbers) and server answers
(any status, JSON nested or numbered past what parsers take, NaN, lone surrogates, APIM, Web API
and OAuth shapes with hostile values, HTML, cut-off JSON, odd headers) on one route of a
hostile server on 127.0.0.1. Whatever they hold, `sage200-doctor run` (in this process, so that
an exception would surface here) must: end with an exit code of the contract other than 5, raise
nothing, and write a report.json that validates.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sage200_doctor.commands import main
from sage200_doctor.config.keys import KNOWN_KEYS
from sage200_doctor.http import session as session_module
from sage200_doctor.report.json import validate_report
from tests.e2e.hostile_server import Reply, Request, hostile_server, mint_jwt, token_body

pytestmark = pytest.mark.e2e


def fuzz(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


CONTRACT_CODES = {0, 1, 2, 3, 4}  # 5 is a bug in sage200-doctor


@pytest.fixture(autouse=True)
def _no_settings_from_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("SAGE200_") or name.upper().endswith("_PROXY"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("NO_COLOR", "1")
    # A fuzzed Retry-After must not make the run wait: the retry path still runs, at once.
    monkeypatch.setattr(session_module, "MAX_RETRY_AFTER_S", 0.0)


def run_in_process(env_file: Path, reports: Path, *only: str) -> int:
    """`sage200-doctor run` in this process: an exception it did not turn into a finding fails
    the test where it was raised. The report.json must be fresh and valid."""
    (reports / "report.json").unlink(missing_ok=True)
    args = ["run", "--env", str(env_file), "--report-dir", str(reports), "-q"]
    for check_id in only:
        args += ["--only", check_id]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        code = main(args)
    assert code in CONTRACT_CODES
    if code != 4:  # a usage error (an unreadable file) writes no report, by design
        report = json.loads((reports / "report.json").read_text(encoding="utf-8"))
        assert validate_report(report) == []
        assert not [c["id"] for c in report["checks"] if c["outcome"] == "error"], report
    return code


# --- env files ---------------------------------------------------------------------------------

KEYS = st.sampled_from(
    [*KNOWN_KEYS, "SAGE200_TIMEOUT", "SAGE200_CLIENTID", "sage200_edition", "HTTPS_PROXY", "X"]
)
URLS = st.builds(
    "{}://{}{}{}".format,
    st.sampled_from(["http", "https", "HTTPS", "ftp", "socks5", ""]),
    st.sampled_from(
        ["127.0.0.1", "localhost", "[::1]", "[::1", "127.0.0.1:9:9", "", "user:pw@127.0.0.1"]
    ),
    st.sampled_from(["", ":9", ":abc", ":99999", ":0", ":-1", ":9 "]),
    st.text(alphabet="/\t\x7f\x00 ?#%$'\"uk200", max_size=12),
)
ODD_VALUES = st.sampled_from(
    [
        "1e10",
        "nan",
        "inf",
        "-1",
        "0",
        "1e999",
        "9" * 5000,
        "A" * 5000,
        "Bearer x",
        "“smart”",
        "'",
        '"',
    ]
)
VALUES = st.one_of(
    URLS,
    ODD_VALUES,
    st.text(st.characters(exclude_categories=("Cs",)), max_size=30),  # any character at all
)


def _line(key: str, value: str, style: int) -> str:
    return [
        f"{key}={value}",
        f'{key}="{value}"',
        f"{key}='{value}'",
        f"export {key}={value}",
        f"{key} = {value}",
        f"{key}{value}",  # no '=' at all
    ][style]


URL_KEYS = st.sampled_from(
    ["SAGE200_API_BASE_URL", "SAGE200_TOKEN_URL", "SAGE200_AUTH_URL", "HTTPS_PROXY"]
)
LINES = st.one_of(
    st.builds(_line, URL_KEYS, URLS, st.integers(0, 5)),
    st.builds(_line, KEYS, VALUES, st.integers(0, 5)),
    st.text(max_size=20),
)
BASE_ENV = (
    "SAGE200_CLIENT_ID=fuzz-client\n"
    "SAGE200_REFRESH_TOKEN=fuzz-refresh-token-1234567890\n"
    "SAGE200_TOKEN_URL=http://127.0.0.1:9/oauth/token\n"
    "SAGE200_API_BASE_URL=http://127.0.0.1:9/uk/sage200/accounts/v1/\n"
    "SAGE200_TIMEOUT_S=2\n"
)


def test_no_env_file_breaks_a_run(tmp_path: Path) -> None:
    env_file = tmp_path / "fuzz.env"

    @fuzz(300)
    @given(lines=st.lists(LINES, max_size=8), junk=st.binary(max_size=12))
    def one(lines: list[str], junk: bytes) -> None:
        text = BASE_ENV + "\n".join(lines) + "\n"
        env_file.write_bytes(text.encode("utf-8") + junk)
        run_in_process(env_file, tmp_path / "reports", "network.identity", "network.api")

    one()


# --- server answers ----------------------------------------------------------------------------

NUMBERS = st.one_of(
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([10**400, -(10**400), 2**63, 0, -1]),
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, st.text(max_size=20))
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                ["id", "site_id", "company_id", "Message", "message", "statusCode", "x"]
            )
            | st.text(max_size=6),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)
RAW = st.one_of(
    JSON.map(lambda value: json.dumps(value, allow_nan=True)),
    st.integers(60, 3000).map(lambda n: "[" * n + "]" * n),
    st.just('{"n": ' + "9" * 5000 + "}"),
    st.sampled_from(['"\\ud800"', '["\\udfff"]', '{"Message": "\\ud800\\u001b[31m"}', "null", ""]),
    st.text(max_size=60).map(lambda title: f"<html><title>{title}</title></html>"),
    st.tuples(JSON, st.integers(0, 30)).map(
        lambda pair: json.dumps(pair[0], allow_nan=True)[: pair[1]]
    ),
    st.text(max_size=60),
)
FIELDS = st.dictionaries(
    st.sampled_from(["access_token", "refresh_token", "expires_in", "scope", "error", "jwks_uri"]),
    JSON | st.sampled_from(["http://[::1", "\ud800x", "rot\u00e9", "", "a.b.c"]),
    max_size=3,
)
HEADER_TEXT = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=30)
HEADERS = st.lists(
    st.tuples(
        st.sampled_from(["Retry-After", "Date", "Location", "Content-Encoding"]), HEADER_TEXT
    ),
    max_size=2,
)
STATUSES = st.sampled_from(
    [200, 204, 301, 302, 400, 401, 403, 404, 429, 500, 502, 503, 504]
) | st.integers(200, 599)
CONTENT_TYPES = st.sampled_from(
    ["application/json", "application/json; charset=bogus", "text/html", "text/plain", ""]
)
ROUTES = st.sampled_from(["discovery", "token", "api_root", "sites", "customers"])

Answer = Callable[[Request], Reply]


def _raw_answer(
    status: int, body: str, content_type: str, headers: list[tuple[str, str]]
) -> Answer:
    return lambda request: Reply(status, body, content_type, tuple(headers))


def _shaped_answer(status: int, fields: dict[str, Any], headers: list[tuple[str, str]]) -> Answer:
    """A healthy-looking answer for the route (a minted token, a discovery document, a list)
    with hostile values in some of its fields."""

    def answer(request: Request) -> Reply:
        base: dict[str, Any] = {"issuer": request.base + "/"}
        if request.route == "token":
            base = token_body(request.base)
        elif request.route != "discovery":
            base = {"access_token": mint_jwt(request.base + "/")}
        return Reply(status, json.dumps({**base, **fields}, allow_nan=True), headers=tuple(headers))

    return answer


ANSWERS = st.one_of(
    st.builds(_raw_answer, STATUSES, RAW, CONTENT_TYPES, HEADERS),
    st.builds(_shaped_answer, st.sampled_from([200, 200, 400, 401]), FIELDS, HEADERS),
)


def test_no_server_answer_breaks_a_run(tmp_path: Path) -> None:
    with hostile_server({}) as server:
        env_file = tmp_path / "site.env"
        env_file.write_text(server.env_lines(SAGE200_TIMEOUT_S="2"), encoding="utf-8")

        @fuzz(100)
        @given(route=ROUTES, answer=ANSWERS)
        def one(route: str, answer: Answer) -> None:
            server.routes.clear()
            server.routes[route] = answer
            env_file.write_text(server.env_lines(SAGE200_TIMEOUT_S="2"), encoding="utf-8")
            run_in_process(env_file, tmp_path / "reports")

        one()
