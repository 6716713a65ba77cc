"""A hostile server against the real CLI: what it echoes, the "tokens" it hands out and the
control characters it sends never turn into a leaked secret, rewritten report markup or a
rewritten terminal (docs/hostile-world.md, secrets part).

Every output is searched: stdout, stderr, report.html, report.json, junit.xml and every member
of the support bundle.
"""

from __future__ import annotations

import base64
import html
import json
import re
import zipfile
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, quote_plus, urlencode

import pytest

from tests.e2e.conftest import CliRun, run_cli
from tests.e2e.hostile_server import (
    CLIENT_SECRET,
    DENIED,
    REFRESH_TOKEN,
    SITES,
    SUBSCRIPTION_KEY,
    Reply,
    Request,
    Route,
    hostile_server,
    token_body,
)

pytestmark = pytest.mark.e2e

ENCODINGS: dict[str, Callable[[str], str]] = {
    "lower-case %xx (.NET UrlEncode)": lambda s: re.sub("%..", _lower, quote_plus(s)),
    "double percent-encoding": lambda s: quote(quote(s, safe=""), safe=""),
    "HTML decimal entities": lambda s: "".join(c if c.isalnum() else f"&#{ord(c)};" for c in s),
    "HTML hex entities": lambda s: "".join(c if c.isalnum() else f"&#x{ord(c):X};" for c in s),
    "JSON \\u escapes": lambda s: "".join(c if c.isalnum() else f"\\u{ord(c):04X}" for c in s),
    "JSON \\/": lambda s: s.replace("/", "\\/"),
    "base64 of Bearer + value": lambda s: base64.b64encode(f"Bearer {s}".encode()).decode(),
    "base64 of a form body": lambda s: base64.b64encode(
        urlencode({"grant_type": "refresh_token", "refresh_token": s, "x": "y" * 40}).encode()
    ).decode(),
    "MIME base64": lambda s: "\r\n".join(
        _lines(base64.b64encode(("x" * 70 + s + "y" * 90).encode()).decode(), 76)
    ),
    "hex": lambda s: s.encode().hex(),
    "HEX": lambda s: s.encode().hex().upper(),
}


def _lower(match: re.Match[str]) -> str:
    return match.group().lower()


def _lines(text: str, width: int) -> list[str]:
    return [text[i : i + width] for i in range(0, len(text), width)]


def run_against(
    routes: dict[str, Route],
    tmp_path: Path,
    *,
    only: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    settings: dict[str, str] | None = None,
) -> tuple[CliRun, dict[str, str]]:
    """`sage200-doctor run` against a hostile server; the run and every text it produced."""
    with hostile_server(routes) as server:
        env_file = tmp_path / "site.env"
        env_file.write_text(server.env_lines(**(settings or {})), encoding="utf-8")
        reports = tmp_path / "reports"
        args = ["run", "--env", str(env_file), "--report-dir", str(reports)]
        args += ["--bundle", str(tmp_path / "bundle.zip")]
        for check_id in only:
            args += ["--only", check_id]
        run = run_cli(args, cwd=tmp_path, env=env)
    assert "Traceback" not in run.stdout + run.stderr, run.stdout + run.stderr
    texts = {"stdout": run.stdout, "stderr": run.stderr}
    for name in ("report.html", "report.json", "junit.xml"):
        texts[name] = (reports / name).read_text(encoding="utf-8")
    with zipfile.ZipFile(tmp_path / "bundle.zip") as bundle:
        texts |= {f"bundle:{n}": bundle.read(n).decode("utf-8") for n in bundle.namelist()}
    return run, texts


def found(needle: str, texts: dict[str, str]) -> list[str]:
    """Where `needle` appears, as written or as JSON or HTML would carry it."""
    forms = {needle, json.dumps(needle)[1:-1], html.escape(needle), html.escape(needle, False)}
    return [where for where, text in texts.items() if any(form in text for form in forms)]


def test_echoed_secrets_are_masked_in_every_encoding(tmp_path: Path) -> None:
    def echo(request: Request) -> Reply:
        form = request.form
        lines = [
            f"{name}: {encode(form.get(field, ''))}"
            for name, encode in ENCODINGS.items()
            for field in ("refresh_token", "client_secret")
        ]
        return Reply(400, "invalid_grant for\n" + "\n".join(lines), "text/plain")

    run, texts = run_against(
        {"token": echo}, tmp_path, only=("token.refresh",), settings={"SAGE200_CLIENT_AUTH": "body"}
    )
    assert run.code == 1, run.stdout
    evidence = json.dumps(run.check("token.refresh")["evidence"])
    assert "invalid_grant for" in evidence  # the echo did reach the report
    leaks = {
        f"{name} of {label}": found(encode(secret), texts)
        for name, encode in ENCODINGS.items()
        for label, secret in (("refresh token", REFRESH_TOKEN), ("client secret", CLIENT_SECRET))
    }
    assert {form: where for form, where in leaks.items() if where} == {}
    assert found(REFRESH_TOKEN, texts) == found(CLIENT_SECRET, texts) == []


class _Elements(HTMLParser):
    """Every element's attributes and all text, of a page and of the HTML it carries as data
    (pytest-html renders the check panels from a JSON blob with innerHTML)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.attributes: list[tuple[str, str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            self.attributes.append((tag, name, value))
            if name == "data-jsonblob" and value:
                self._nested(json.loads(value))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def _nested(self, value: object) -> None:
        if isinstance(value, dict):
            for item in value.values():
                self._nested(item)
        elif isinstance(value, list):
            for item in value:
                self._nested(item)
        elif isinstance(value, str) and "<" in value:
            inner = _Elements()
            inner.feed(value)
            self.attributes += inner.attributes
            self.text += inner.text


PAYLOAD = "x tabindex=1 autofocus onfocus=document.body.append(31337) y"


def test_a_server_chosen_token_cannot_rewrite_the_report(tmp_path: Path) -> None:
    # D1: the token endpoint hands out '"s2d-lead">' as the rotated refresh token; if it were
    # swept out of report.html as a secret, the server's next words would become attributes.

    def token(request: Request) -> Reply:
        return Reply(200, token_body(request.base, refresh_token='"s2d-lead">'))

    def sites(request: Request) -> Reply | None:
        # header.authorization passes (a 500 is not a refusal); sites.list fails quoting it.
        return Reply(500, {"Message": PAYLOAD}) if request.authorized else None

    run, texts = run_against({"token": token, "sites": sites}, tmp_path, only=("sites.list",))
    assert run.report["root_cause"]["check"] == "sites.list", run.stdout
    page = _Elements()
    page.feed(texts["report.html"])
    injected = [a for a in page.attributes if a[1] in ("onfocus", "autofocus", "tabindex")]
    assert injected == []
    assert any(PAYLOAD in text for text in page.text)  # shown as text, escaped
    assert 'class="s2d-lead"' in texts["report.html"]  # the tool's own markup is intact


@pytest.mark.parametrize("variable", ["HTTPS_PROXY", "https_proxy", "ALL_PROXY"])
def test_proxy_passwords_are_never_printed(tmp_path: Path, variable: str) -> None:
    password = "Pr0xyP4ssw0rd"
    proxy = f"http://corp:{password}@127.0.0.1:9/"  # nothing listens on port 9
    env = {variable: proxy, "HTTP_PROXY": proxy, "NO_PROXY": "", "no_proxy": ""}
    run, texts = run_against({}, tmp_path, only=("network.identity",), env=env)
    assert run.code == 3, run.stdout
    assert "127.0.0.1:9" in run.report["root_cause"]["summary"]  # the proxy is still named
    assert found(password, texts) == []
    assert found(f"corp:{password}", texts) == []


@pytest.mark.parametrize("key", ["SAGE200_TOKEN_URL", "SAGE200_API_BASE_URL"])
def test_passwords_in_configured_urls_are_never_printed(tmp_path: Path, key: str) -> None:
    password = "UrlP4ssw0rd9"
    path = "/oauth/token" if key == "SAGE200_TOKEN_URL" else "/uk/sage200/accounts/v1/"

    def refuse(request: Request) -> Reply:
        return Reply(401, {"error": "invalid_client", "Message": DENIED})

    run, texts = run_against(
        {"token": refuse, "sites": refuse},
        tmp_path,
        only=("sites.list",),
        settings={key: f"http://someone:{password}@{{host}}{path}"},
    )
    assert run.code in (1, 2, 3), run.stdout
    assert "someone:" not in run.report["environment"]["api_base_url"]
    assert found(password, texts) == []
    assert found(quote(password), texts) == []
    assert found(base64.b64encode(f"someone:{password}".encode()).decode(), texts) == []


def _longest_prefix_shown(secret: str, texts: dict[str, str]) -> str:
    return max(
        (
            secret[:n]
            for n in range(len(secret) + 1)
            if any(secret[:n] in t for t in texts.values())
        ),
        key=len,
    )


def test_a_title_is_redacted_before_it_is_cut(tmp_path: Path) -> None:
    # D6: a proxy page titled with the echoed refresh token, cut at 80 characters.
    def title(request: Request) -> Reply:
        page = f"<html><head><title>{'E' * 60} {request.form.get('refresh_token')} end</title>"
        return Reply(502, page + "</head></html>", "text/html")

    run, texts = run_against(
        {"token": title},
        tmp_path,
        only=("token.refresh",),
        settings={"SAGE200_CLIENT_AUTH": "body"},
    )
    summary = run.report["root_cause"]["summary"]
    assert 'titled "EEEE' in summary
    assert "[redacted:refresh_token]" in summary
    assert len(_longest_prefix_shown(REFRESH_TOKEN, texts)) < 4


def test_schema_messages_are_redacted_before_they_are_cut(tmp_path: Path) -> None:
    # D6: a jsonschema message quoting a value with the subscription key at character ~180.
    def sites(request: Request) -> Reply | None:
        if not request.authorized:
            return None
        tenant = "t" * 170 + request.headers.get("ocp-apim-subscription-key", "")
        return Reply(200, [dict(SITES[0], tenant_id=tenant)])

    run, texts = run_against({"sites": sites}, tmp_path, only=("api.schema",))
    assert run.check("api.schema")["outcome"] == "warning", run.stdout
    assert "[redacted:subscription_key]" in run.check("api.schema")["details"]
    assert len(_longest_prefix_shown(SUBSCRIPTION_KEY, texts)) < 4


CONTROLS = "\x1b]0;owned\x07\x1b[2K\r  ok      sites.list      all good\x1b[8m\u202e"


def test_server_control_characters_never_reach_the_terminal(tmp_path: Path) -> None:
    # D7: a title change, a line erase and a forged "ok" line in the server's message.

    def sites(request: Request) -> Reply | None:
        return Reply(500, {"Message": CONTROLS}) if request.authorized else None

    run, texts = run_against({"sites": sites}, tmp_path, only=("sites.list",))
    assert run.report["root_cause"]["check"] == "sites.list"
    for stream in ("stdout", "stderr", "report.html"):
        for control in ("\x1b", "\x07", "\r", "\u202e"):
            assert control not in texts[stream], (stream, control)
    assert "\\x1b]0;owned\\x07" in run.stdout  # shown, not obeyed
    assert run.report["root_cause"]["summary"].count("\x1b") == 3  # report.json keeps the data
