"""Hostile-world guarantees of redaction, unit by unit (docs/hostile-world.md, secrets part).

D1: values a server hands out are learned as secrets only if they could be credentials, and
the sweep over rendered markup can never change the markup. D2: URL user info and proxy
passwords are secrets. D6: quoted server text is redacted before it is cut. D7: control
characters from servers are shown, never obeyed.
"""

from __future__ import annotations

import dataclasses
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sage200_doctor.config.settings import load_settings, redactor_for
from sage200_doctor.engine.results import CheckResult, Exchange, Outcome, RunResult
from sage200_doctor.http.network import classify, host_of
from sage200_doctor.http.sage import denial
from sage200_doctor.http.session import Answer, Session, build_client
from sage200_doctor.redact import (
    MASK,
    Redactor,
    add_url_credentials,
    could_be_credential,
    neutralise_controls,
    url_password,
)
from sage200_doctor.report.html_parts import check_panel, escape
from sage200_doctor.report.terminal import render_summary
from tests.unit.test_report_json import sample_run

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjYW5hcnkifQ.c2lnbmF0dXJlLWNhbmFyeQ"
SECRET = "rT7.Xq2-Lm7Wp4~Zs8Vb3_Nc6Hd1Jf5Gy0Ta"


# --- D1: what may be learned -----------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        JWT,
        SECRET,
        "rT9+Kq2/Lm7Wp4=Zs8Vb3Nc6Hd1Jf5Gy0Tb",  # base64 symbols
        "v1.MRrTd3tEYj0m-6Mu8hY9f0Cl2MhxqZ0c2lAt8QnHIH9ZbE3vNHR6",  # Auth0 style
        "5ub5c71p710nk3y0a1b2c3d4e5f6a7b8",  # a hex key
    ],
)
def test_credentials_can_be_learned(value: str) -> None:
    assert could_be_credential(value)
    r = Redactor()
    assert r.learn("refresh_token", value)
    assert r.text(f"x {value} y") == "x [redacted:refresh_token] y"
    assert r.learned == ["refresh_token"]


@pytest.mark.parametrize(
    "value",
    [
        '"s2d-lead">',  # markup
        "s2d-lead",  # too short
        "shortbutalnum15",  # 16 characters would pass: 15 do not
        "abcdefghij klmnopqrstuvwxyz",  # whitespace
        "abcdefghijklmnopqrst\x1b[2K",  # a control character
        "abcdéfghijklmnopqrstuvwxyz",  # not ASCII
        "abcdefghijkl'mnopqrstuvwxyz",  # a quote
        "abcdefghijkl&mnopqrstuvwxyz",  # an entity start
        "abcdefghijkl\\mnopqrstuvwxyz",  # an escape
        "-._~-._~-._~abcdefgh",  # mostly punctuation
        "Authorization has been denied for this request.",  # prose
    ],
)
def test_values_that_cannot_be_credentials_are_not_learned(value: str) -> None:
    assert not could_be_credential(value)
    r = Redactor()
    assert not r.learn("refresh_token", value)
    assert r.secret_count == 0
    assert r.text(f"x {value} y") == f"x {value} y"
    assert r.refused == ["refresh_token"]


def test_learning_accepts_secret_objects_and_sixteen_characters() -> None:
    class Hidden:
        def reveal(self) -> str:
            return "abcdefghijklmno1"

    r = Redactor()
    assert r.learn("access_token", Hidden())
    assert not r.learn("access_token", None)


# --- D1: the sweep over rendered markup --------------------------------------------------------


class _Structure(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.tags: list[tuple[str, tuple[str, ...]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, tuple(name for name, _ in attrs)))

    def handle_endtag(self, tag: str) -> None:
        self.tags.append((f"/{tag}", ()))


def structure(markup: str) -> list[tuple[str, tuple[str, ...]]]:
    parser = _Structure()
    parser.feed(markup)
    parser.close()
    return parser.tags


PAGE = (
    "<!DOCTYPE html><html><head><style>.s2d-lead{{color:red}}</style></head><body>"
    '<p class="s2d-lead">GET sites failed with &quot;x tabindex=1 autofocus '
    'onfocus=alert(1) y&quot;</p><th class="sortable" data-column-type="result">Result</th>'
    '<pre class="s2d-pre">body {secret} &amp; more</pre><!-- {secret} -->'
    '<div id="data-container" data-jsonblob="{{&#34;extras&#34;: &#34;&lt;p '
    'class=\\&#34;s2d-note\\&#34;&gt;{secret}&lt;/p&gt;&#34;}}"></div>'
    "<script>if (a < b) {{ run(); }}</script></body></html>"
)


@pytest.mark.parametrize(
    "hostile",
    ['"s2d-lead">', 'class="s2d-lead"', "data-column-type=", "</pre><!--", '<p class="'],
)
def test_the_markup_sweep_never_changes_markup(hostile: str) -> None:
    page = PAGE.format(secret=SECRET)
    r = Redactor()
    r.add("refresh_token", SECRET)
    r.add("chosen", hostile)  # registered as if configured: the sweep must still be inert
    swept = r.markup(page)
    assert structure(swept) == structure(page)
    assert SECRET not in swept
    assert swept.count("[redacted:refresh_token]") == 3  # text, comment, nested JSON blob
    assert "onfocus=alert(1) y&quot;</p>" in swept  # the server's words stay text


@settings(max_examples=150, deadline=None, database=None)
@given(data=st.data())
def test_no_substring_of_the_page_can_rewrite_it(data: st.DataObject) -> None:
    page = PAGE.format(secret=SECRET)
    start = data.draw(st.integers(0, len(page) - 6))
    chosen = page[start : start + data.draw(st.integers(6, 40))]
    r = Redactor()
    r.add("chosen", chosen)
    assert structure(r.markup(page)) == structure(page)


def test_a_sweep_by_plain_text_would_rewrite_the_page() -> None:
    # What the structure comparison above guards against (the defect D1 exploited).
    page = PAGE.format(secret=SECRET)
    r = Redactor()
    r.add("chosen", '"s2d-lead">')
    assert structure(r.text(page)) != structure(page)


def test_the_markup_sweep_fails_closed() -> None:
    class Broken(Redactor):
        def text(self, value: str) -> str:
            raise RuntimeError("boom")

    assert Broken().safe_markup("<p>x</p>") == "[dropped: could not be redacted safely]"


def test_a_panel_is_swept_as_markup() -> None:
    check = CheckResult("sites.list", 100, "Sites", Outcome.FAILED, "x", details=f"a {SECRET}")
    r = Redactor()
    r.add("chosen", '"s2d-pre">')
    r.add("refresh_token", SECRET)
    panel = check_panel(check, RunResult("now", 0.0, {}, [check]))
    swept = r.markup(panel)
    assert structure(swept) == structure(panel)
    assert SECRET not in swept


# --- D2: user info and proxy passwords ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("via http://corp:Pr0xy@10.0.0.1:8080/ now", f"via http://{MASK}@10.0.0.1:8080/ now"),
        ("https://tok3n@host/x", f"https://{MASK}@host/x"),
        ("http://me:[redacted:url_password]@h/", f"http://{MASK}@h/"),
        ("socks5h://u:p%40ss@proxy:1080", f"socks5h://{MASK}@proxy:1080"),
        ("next=http%3A%2F%2Fu%3Apw%40host%2Fx", f"next=http%3A%2F%2F{MASK}%40host%2Fx"),
        ("https://host/path?email=a@b.example", "https://host/path?email=a@b.example"),
        ("mailto:someone@example.com", "mailto:someone@example.com"),
        ("http://[::1]:8080/x", "http://[::1]:8080/x"),
    ],
)
def test_url_user_info_is_masked_by_shape(text: str, expected: str) -> None:
    assert Redactor().text(text) == expected
    assert Redactor().text(expected) == expected  # idempotent


def test_url_passwords() -> None:
    assert url_password("http://corp:Pr0xyP4ss@h:1/") == "Pr0xyP4ss"
    assert url_password("corp:Pr0xyP4ss@h:1") == "Pr0xyP4ss"  # a proxy variable without scheme
    assert url_password("http://user@h/") is None
    assert url_password("https://h/x?to=a@b") is None


def test_proxy_and_url_passwords_are_registered() -> None:
    r = Redactor()
    environ = {
        "HTTPS_PROXY": "http://corp:Upper-Pr0xy@p:1",
        "http_proxy": "http://corp:l0wer%40pr0xy@p:1",
        "ALL_PROXY": "socks5://u:Socks-Pa55@p:2",
        "NO_PROXY": "http://x:not-a-proxy@n",
        "PATH": "/usr/bin",
    }
    add_url_credentials(r, ["https://svc:Url-Pa55word@api/x", None, 3], environ=environ)
    said = r.text("Upper-Pr0xy l0wer@pr0xy l0wer%40pr0xy Socks-Pa55 Url-Pa55word not-a-proxy")
    assert said == (
        "[redacted:proxy_password] [redacted:proxy_password] [redacted:proxy_password] "
        "[redacted:proxy_password] [redacted:url_password] not-a-proxy"
    )


def test_a_run_redactor_knows_proxy_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://corp:Pr0xyP4ssw0rd@proxy:3128")
    loaded = load_settings(None, environ={}, default_env_file=Path("/nonexistent/.env"))
    r = redactor_for(loaded.settings)
    assert r.text("it said Pr0xyP4ssw0rd") == "it said [redacted:proxy_password]"


def test_proxy_sentences_name_the_host_only() -> None:
    error = httpx.ConnectError("[Errno 111] Connection refused")
    problem = classify(error, "id.example:443", proxy="http://corp:Pr0xyP4ss@proxy.corp:3128")
    assert "proxy.corp:3128" in problem.sentence
    assert "Pr0xyP4ss" not in problem.sentence
    assert "corp:Pr0xy" not in problem.sentence
    assert host_of("https://u:p@api.example:8443/x") == "api.example:8443"
    assert host_of("u:p@proxy:1") == "proxy:1"
    assert host_of("http://[") == "the configured host"


def test_header_values_and_urls_in_evidence_are_redacted() -> None:
    key = "5ub5c71p710nk3y0a1b2c3d4e5f6a7b8"
    r = Redactor()
    r.add("subscription_key", key)
    location = f"https://u:pw@h/next?k={quote(key.encode().hex().upper())}"
    assert r.headers({"Location": location}) == {
        "Location": f"https://{MASK}@h/next?k=[redacted:subscription_key]"
    }
    # report.json masks keys too: a header name a server chose to echo a secret in
    assert r.data({f"X-Echo-{key}": "1"}) == {"X-Echo-[redacted:subscription_key]": "1"}


# --- D6: redacted before it is cut -------------------------------------------------------------


def test_an_html_title_is_redacted_before_it_is_cut() -> None:
    r = Redactor()
    r.add("refresh_token", SECRET)
    page = f"<html><title>{'E' * 60} {SECRET} end</title></html>"
    answer = Answer(url="u", status=502, headers={"content-type": "text/html"}, text=page)
    answer.redactor = r
    said = answer.describe_body()
    assert "[redacted:refresh_token]" in said
    assert SECRET[:4] not in said


def test_an_unknown_refusal_quotes_the_body_redacted_then_cut() -> None:
    r = Redactor()
    r.add("subscription_key", "5ub5c71p710nk3y0a1b2c3d4e5f6a7b8")
    body = "x" * 190 + " 5ub5c71p710nk3y0a1b2c3d4e5f6a7b8"
    refusal = denial(Answer(url="u", status=403, text=body, redactor=r))
    assert refusal.layer == "unknown"
    assert refusal.message == "x" * 190 + " [redacted:subscription_key]…"


def test_evidence_excerpts_never_cut_inside_a_mask(monkeypatch: pytest.MonkeyPatch) -> None:
    from sage200_doctor.http import session as session_module

    monkeypatch.setattr(session_module, "EXCERPT_CHARS", 50)
    body = "y" * 40 + " " + SECRET + " tail"
    handler = httpx.MockTransport(lambda request: httpx.Response(500, text=body))
    r = Redactor()
    r.add("refresh_token", SECRET)
    session = Session(build_client(timeout_s=1, ca_bundle=None, transport=handler), r)
    session.request("GET", "https://api.example/x")
    excerpt = session.take_exchanges()[0].body_excerpt
    assert excerpt == "y" * 40 + " [redacted:refresh_token] …(cut)"


# --- D7: control characters --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "one_line", "multi_line"),
    [
        ("\x1b]0;owned\x07", "\\x1b]0;owned\\x07", "\\x1b]0;owned\\x07"),
        ("a\rb\nc\td", "a\\rb\\nc\\td", "a\\rb\nc\td"),
        ("\u202eevil\u2066", "\\u202eevil\\u2066", "\\u202eevil\\u2066"),
        ("\x00\x7f\x85\u2028", "\\x00\\x7f\\x85\\u2028", "\\x00\\x7f\\x85\\u2028"),
        ("café ✔ ok", "café ✔ ok", "café ✔ ok"),
    ],
)
def test_neutralise_controls(text: str, one_line: str, multi_line: str) -> None:
    assert neutralise_controls(text) == one_line
    assert neutralise_controls(text, multiline=True) == multi_line


CONTROLS = "\x1b]0;owned\x07\x1b[2K\r  ok      sites.list  all good\x1b[8m\u202e"


def _hostile_run() -> RunResult:
    run = sample_run()
    checks = [
        dataclasses.replace(
            c, summary=c.summary + CONTROLS, details=f"line one\n{CONTROLS}\nline three"
        )
        for c in run.checks
    ]
    return dataclasses.replace(run, checks=checks)


@pytest.mark.parametrize("quiet", [False, True])
def test_the_terminal_summary_shows_controls_without_obeying_them(quiet: bool) -> None:
    plain = render_summary(_hostile_run(), quiet=quiet)
    for control in ("\x1b", "\x07", "\r", "\u202e"):
        assert control not in plain
    assert "\\x1b]0;owned\\x07" in plain
    coloured = render_summary(_hostile_run(), color=True, quiet=quiet)
    assert "\x1b]0;" not in coloured
    assert "\x1b[2K" not in coloured
    assert "\x1b[8m" not in coloured
    assert "\x1b[" in coloured  # our own colour codes are still there


def test_details_stay_multi_line_on_the_terminal() -> None:
    text = render_summary(_hostile_run())
    assert "\n  line one\n" in text
    assert "\n  line three\n" in text


def test_html_shows_controls_without_obeying_them() -> None:
    assert (
        escape(f"a {CONTROLS}\nb")
        == escape("a ")
        + escape("\\x1b]0;owned\\x07\\x1b[2K\\r  ok      sites.list  all good\\x1b[8m\\u202e")
        + "\nb"
    )
    exchange = Exchange("GET", "https://h/x", {}, status=500, body_excerpt=CONTROLS)
    check = CheckResult("sites.list", 100, "Sites", Outcome.FAILED, CONTROLS, evidence=[exchange])
    panel = check_panel(check, RunResult("now", 0.0, {}, [check]))
    assert "\x1b" not in panel
    assert "\u202e" not in panel
