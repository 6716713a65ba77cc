"""The streaming HAR reader over captures shaped as each exporter writes them, and bad input."""

from __future__ import annotations

import base64
import gzip
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sage200_doctor.recorded import (
    HarError,
    RecordedExchange,
    SageHosts,
    classify_host,
    open_har,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "har"
API = "https://api.columbus.sage.com/uk/sage200extra/accounts/v1"
REFRESH = "CANARY-REFRESH-7f3a9c2e41d84b6fa0c5"
SECRET = "CANARY-SECRET-9e1f7c3b5a2d"
SITE = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
CREATORS = {
    "chrome.har": "WebInspector",
    "chrome-sanitized.har": "WebInspector",
    "firefox.har": "Firefox",
    "fiddler.har": "Fiddler",
    "charles.har": "Charles Proxy",
    "proxyman.har": "Proxyman",
    "insomnia.har": "Insomnia REST Client",
}


def read(name: str) -> list[RecordedExchange]:
    return list(open_har(FIXTURES / name))


def write_har(path: Path, har: object) -> Path:
    path.write_text(json.dumps(har), encoding="utf-8")
    return path


def minimal_entry(url: str = f"{API}/sites", **request: Any) -> dict[str, Any]:
    return {
        "startedDateTime": "2026-11-23T18:00:00.000Z",
        "time": 10,
        "request": {"method": "GET", "url": url, "httpVersion": "HTTP/1.1", "headers": []}
        | request,
        "response": {"status": 200, "statusText": "OK", "headers": [], "content": {}},
    }


def har_with(*entries: object, version: str = "1.2") -> dict[str, Any]:
    return {"log": {"version": version, "creator": {"name": "test"}, "entries": list(entries)}}


# -- every exporter: the same Sage conversation comes out the same ------------------------------


@pytest.mark.parametrize("name", sorted(CREATORS))
def test_each_exporter_yields_the_token_sites_and_customers_exchanges(name: str) -> None:
    capture = open_har(FIXTURES / name)
    token, sites, customers = list(capture)[:3]

    assert capture.creator is not None
    assert capture.creator.name == CREATORS[name]
    assert capture.version == "1.2"
    assert capture.skipped == ()
    assert (token.request.method, token.request.url) == ("POST", "https://id.sage.com/oauth/token")
    assert token.request.form_value("grant_type") == "refresh_token"
    assert token.request.form_value("refresh_token") == REFRESH
    assert token.request.form_value("client_secret") == SECRET
    assert token.response.status == 200
    assert "access_token" in json.loads(token.response.body or "{}")
    assert sites.request.url == f"{API}/sites"
    assert sites.response.status == 200
    assert json.loads(sites.response.body or "[]")[0]["site_id"] == SITE
    assert customers.request.header("X-Site") == SITE
    assert customers.request.header("x-company") == "2"
    assert customers.request.query_value("$filter") == "reference eq 'A1D001'"
    assert [classify_host(e.request.url) for e in (token, sites, customers)] == [
        "identity",
        "api",
        "api",
    ]


@pytest.mark.parametrize("name", sorted(CREATORS))
def test_started_times_are_timezone_aware_and_elapsed_is_read(name: str) -> None:
    for exchange in read(name):
        assert exchange.started is not None
        assert exchange.started.utcoffset() is not None
        assert exchange.started.astimezone(UTC).date() == datetime(2026, 11, 23).date()
        assert exchange.elapsed_ms is not None
        assert exchange.elapsed_ms > 0


def test_chrome_http2_pseudo_headers_are_kept_apart_and_give_the_host() -> None:
    token = read("chrome.har")[0]

    assert dict(token.request.pseudo_headers) == {
        ":authority": "id.sage.com",
        ":method": "POST",
        ":path": "/oauth/token",
        ":scheme": "https",
    }
    assert token.request.header("host") == "id.sage.com"
    assert all(not name.startswith(":") for name, _ in token.request.headers)
    assert token.request.http_version == "http/2.0"
    assert token.page_ref == "page_1"


def test_repeated_headers_are_all_kept_in_order() -> None:
    token = read("chrome.har")[0]
    firefox_token = read("firefox.har")[0]

    assert token.response.header_values("Vary") == ["Accept-Encoding", "Origin"]
    assert token.response.header("vary") == "Accept-Encoding"
    assert [v.split("=")[0] for v in firefox_token.response.header_values("set-cookie")] == [
        "did",
        "did_compat",
    ]


def test_header_names_are_lower_cased_values_untouched() -> None:
    sites = read("firefox.har")[1]

    assert ("host", "api.columbus.sage.com") in sites.request.headers
    assert sites.request.header("Ocp-Apim-Subscription-Key") == "CANARY-SUBSCRIPTION-KEY-5c2d8e1f"
    assert (sites.request.header("authorization") or "").startswith("Bearer ")


@pytest.mark.parametrize("name", ["chrome.har", "fiddler.har"])
def test_base64_bodies_are_decoded(name: str) -> None:
    sites = read(name)[1]

    assert json.loads(sites.response.body or "")[0]["company_id"] == 2
    assert sites.response.body_truncated is False


def test_chrome_status_zero_means_no_response_and_keeps_the_error() -> None:
    failed = read("chrome.har")[3]

    assert failed.response.status is None
    assert failed.answered is False
    assert failed.error == "net::ERR_FAILED"


def test_chrome_sanitized_export_has_no_authorization_header() -> None:
    """Chrome 130+ exports "HAR (sanitized)" by default: triage cannot see the Bearer header."""
    sanitized = read("chrome-sanitized.har")
    full = read("chrome.har")

    assert full[1].request.header("authorization") is not None
    assert sanitized[1].request.header("authorization") is None
    assert sanitized[1].request.header("ocp-apim-subscription-key") is not None
    assert sanitized[0].request.form_value("refresh_token") == REFRESH  # bodies are kept


def test_firefox_body_left_out_of_the_export_is_none() -> None:
    not_included = read("firefox.har")[3]

    assert not_included.response.status == 200
    assert not_included.response.body is None


def test_form_fields_come_from_urlencoded_text_even_with_empty_params() -> None:
    fiddler_token = read("fiddler.har")[0]

    assert fiddler_token.request.body_mime_type == "application/x-www-form-urlencoded"
    assert fiddler_token.request.form_value("client_id") == "CANARY-CLIENT-ID-3d9b7a"
    assert fiddler_token.comment == "token refresh"


def test_insomnia_params_and_query_kept_outside_the_url() -> None:
    token, _, customers = read("insomnia.har")

    assert token.request.body == ""
    assert token.request.form_value("refresh_token") == REFRESH
    assert "?" not in customers.request.url
    assert customers.request.query == (("$filter", "reference eq 'A1D001'"),)
    assert customers.comment == "Customers by reference"


def test_chrome_raw_query_string_values_are_percent_decoded() -> None:
    customers = read("chrome.har")[2]

    assert customers.request.url.endswith("$filter=reference%20eq%20%27A1D001%27")
    assert customers.request.query_value("$filter") == "reference eq 'A1D001'"


def test_fiddler_seven_digit_fractions_parse() -> None:
    token = read("fiddler.har")[0]

    assert token.started == datetime(2026, 11, 23, 18, 0, 0, 123456, tzinfo=UTC)


def test_creator_after_entries_is_found() -> None:
    capture = open_har(FIXTURES / "proxyman.har")
    raw = (FIXTURES / "proxyman.har").read_text(encoding="utf-8")

    assert raw.index('"creator"') > raw.index('"entries"')
    assert capture.creator is not None
    assert (capture.creator.name, capture.creator.version) == ("Proxyman", "5.11.0")


def test_proxyman_dates_without_fraction_parse() -> None:
    assert read("proxyman.har")[0].started == datetime(2026, 11, 23, 18, tzinfo=UTC)


def test_offsets_are_kept_and_naive_times_are_taken_as_utc(tmp_path: Path) -> None:
    offset = minimal_entry() | {"startedDateTime": "2026-11-23T19:00:00.5+01:00"}
    naive = minimal_entry() | {"startedDateTime": "2026-11-23T18:00:00"}
    garbage = minimal_entry() | {"startedDateTime": "yesterday"}
    exchanges = list(open_har(write_har(tmp_path / "t.har", har_with(offset, naive, garbage))))

    assert exchanges[0].started is not None
    assert exchanges[0].started.utcoffset() == timedelta(hours=1)
    assert exchanges[0].started.astimezone(UTC) == datetime(2026, 11, 23, 18, 0, 0, 500000, UTC)
    assert exchanges[1].started == datetime(2026, 11, 23, 18, tzinfo=UTC)
    assert exchanges[2].started is None


# -- the fault variants carry what the lead's rules will judge -----------------------------------


def test_fault_bearer_without_space_is_recorded_verbatim() -> None:
    (exchange,) = read("fault-bearer-no-space.har")

    authorization = exchange.request.header("authorization") or ""
    assert authorization.startswith("Bearer")
    assert not authorization.startswith("Bearer ")
    assert exchange.response.status == 401
    assert json.loads(exchange.response.body or "")["Message"].startswith("Authorization has")


def test_fault_typographic_quotes_survive_decoding() -> None:
    (exchange,) = read("fault-typographic-filter.har")

    assert exchange.request.query_value("$filter") == "reference eq \u2018A1D001\u2019"
    assert exchange.response.status == 400


@pytest.mark.parametrize(
    ("name", "status", "key"),
    [
        ("fault-gateway-invalid-key.har", 401, "statusCode"),
        ("fault-webapi-denied.har", 401, "Message"),
        ("fault-invalid-grant.har", 403, "error"),
    ],
)
def test_fault_answers_keep_their_json_bodies(name: str, status: int, key: str) -> None:
    (exchange,) = read(name)

    assert exchange.response.status == status
    assert key in json.loads(exchange.response.body or "{}")


def test_fault_forbidden_proxy_page_and_redirects() -> None:
    (forbidden,) = read("fault-forbidden.har")
    (proxy,) = read("fault-proxy-502.har")
    moved, found, portal = read("fault-redirects.har")

    assert (forbidden.response.status, forbidden.response.body) == (403, "")
    assert proxy.response.status == 502
    assert "<h1>Bad Gateway</h1>" in (proxy.response.body or "")
    assert moved.request.url.startswith("http://")
    assert moved.request.header("host")
    assert moved.response.redirect_url == f"{API}/sites"
    assert found.response.redirect_url == found.response.header("location")
    assert classify_host(portal.request.url) is None


def test_fault_no_response_in_three_shapes() -> None:
    missing, null, blocked = read("fault-no-response.har")

    assert [e.response.status for e in (missing, null, blocked)] == [None, None, None]
    assert (missing.error, blocked.error) == (None, "net::ERR_NAME_NOT_RESOLVED")


# -- broken entries are skipped and counted; broken files raise one HarError --------------------


def test_broken_entries_are_skipped_counted_and_keep_the_others() -> None:
    capture = open_har(FIXTURES / "broken-entries.har")
    exchanges = list(capture)

    assert [e.index for e in exchanges] == [0, 5]
    assert capture.entries_seen == 6
    assert capture.skipped_total == 4
    assert {s.reason: s.first_index for s in capture.skipped} == {
        "the entry is not a JSON object": 1,
        "request is missing or not an object": 2,
        "request.headers is not a list": 3,
        "response.status is not a number": 4,
    }


def test_a_second_pass_counts_again_from_zero() -> None:
    capture = open_har(FIXTURES / "broken-entries.har")
    list(capture)
    list(capture)

    assert capture.skipped_total == 4


def test_truncated_file_yields_what_came_before_then_says_where_it_stopped(
    tmp_path: Path,
) -> None:
    whole = (FIXTURES / "chrome.har").read_bytes()
    cut = whole.index(
        b"CANARY-SUBSCRIPTION",
        whole.index(
            b'"url": "https://api.columbus.sage.com/uk/sage200extra/accounts/v1/customers?'
        ),
    )
    path = tmp_path / "cut.har"
    path.write_bytes(whole[: cut + 10])
    capture = open_har(path)
    seen: list[RecordedExchange] = []

    with pytest.raises(HarError) as raised:
        seen.extend(capture)

    assert raised.value.kind == "truncated"
    assert [e.index for e in seen] == [0, 1]
    message = str(raised.value)
    assert "cut short" in message
    assert f"{cut + 10:,}" in message
    assert "after 2 entries" in message
    assert "CANARY" not in message


def test_file_cut_before_the_entries_fails_at_open(tmp_path: Path) -> None:
    path = tmp_path / "head.har"
    path.write_text('{"log": {"version": "1.2", "creator": {"name": "x"', encoding="utf-8")

    with pytest.raises(HarError) as raised:
        open_har(path)

    assert raised.value.kind == "truncated"


def test_json_broken_in_the_middle_says_not_valid_json_with_a_position(tmp_path: Path) -> None:
    good = json.dumps(minimal_entry())
    text = json.dumps(har_with()).replace("[]", f"[{good}, {good}]")
    broken = text.replace(f"{good}]", good.replace('"GET"', "GET") + "]", 1)
    path = tmp_path / "broken.har"
    path.write_text(broken, encoding="utf-8")
    capture = open_har(path)

    with pytest.raises(HarError) as raised:
        list(capture)

    assert raised.value.kind == "not-json"
    assert "byte" in str(raised.value)
    assert "after 1 entries" in str(raised.value)


@pytest.mark.parametrize(
    ("content", "kind", "words"),
    [
        (b"", "empty", "empty"),
        (b"   \n", "empty", "empty"),
        (b"<!DOCTYPE html><html></html>", "not-json", "HTML"),
        (b"hello, this is not json", "not-json", "not valid JSON"),
        (b"[1, 2, 3]", "not-har", "not an object"),
        (b'{"log": {"version": "1.2", "pages": []}}', "not-har", "no `log.entries`"),
        (b'{"log": {"version": "1.2", "entries": {}}}', "not-har", "not a list"),
        (b'{"log": [1]}', "not-har", "no `log.entries`"),
        (b'{"entries": []}', "not-har", "no `log.entries`"),
        ("\ufeff{}".encode("utf-16"), "not-json", "UTF-16"),
        (b"PK\x03\x04rest-of-zip", "not-json", "ZIP"),
        (gzip.compress(b'{"log": {}}', mtime=0), "not-json", "gzip"),
    ],
)
def test_files_that_are_not_hars_say_why(
    tmp_path: Path, content: bytes, kind: str, words: str
) -> None:
    path = tmp_path / "capture.har"
    path.write_bytes(content)

    with pytest.raises(HarError) as raised:
        open_har(path)

    assert raised.value.kind == kind
    assert words in str(raised.value)
    assert "Traceback" not in str(raised.value)


def test_missing_file_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(HarError) as raised:
        open_har(tmp_path / "nowhere.har")

    assert raised.value.kind == "unreadable"
    assert "nowhere.har" in str(raised.value)


@pytest.mark.parametrize("version", ["2.0", "1.3", "0.9"])
def test_unknown_versions_are_refused(tmp_path: Path, version: str) -> None:
    path = write_har(tmp_path / "v.har", har_with(minimal_entry(), version=version))

    with pytest.raises(HarError) as raised:
        open_har(path)

    assert raised.value.kind == "version"
    assert repr(version) in str(raised.value)
    assert "1.1 and 1.2" in str(raised.value)


@pytest.mark.parametrize(("written", "read_as"), [("1.1", "1.1"), ("1.2", "1.2"), ("", "1.1")])
def test_known_versions_and_the_empty_default_are_accepted(
    tmp_path: Path, written: str, read_as: str
) -> None:
    path = write_har(tmp_path / "v.har", har_with(minimal_entry(), version=written))

    assert open_har(path).version == read_as


def test_a_missing_creator_is_none(tmp_path: Path) -> None:
    path = write_har(tmp_path / "c.har", {"log": {"version": "1.2", "entries": [minimal_entry()]}})
    capture = open_har(path)

    assert capture.creator is None
    assert len(list(capture)) == 1


def test_a_utf8_byte_order_mark_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "bom.har"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(har_with(minimal_entry())).encode())

    assert [e.response.status for e in open_har(path)] == [200]


def test_progress_reports_bytes_read_up_to_the_total() -> None:
    calls: list[tuple[int, int]] = []
    capture = open_har(
        FIXTURES / "chrome.har", progress=lambda done, total: calls.append((done, total))
    )

    assert calls == []  # opening reads the head only, quietly
    list(capture)

    size = (FIXTURES / "chrome.har").stat().st_size
    assert calls
    assert calls[-1] == (size, size)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


def test_long_bodies_are_cut_and_marked(tmp_path: Path) -> None:
    entry = minimal_entry()
    entry["response"]["content"] = {"size": 5000, "mimeType": "text/plain", "text": "y" * 5000}
    path = write_har(tmp_path / "big.har", har_with(entry))

    (exchange,) = open_har(path, max_body_chars=100)

    assert exchange.response.body == "y" * 100
    assert exchange.response.body_truncated is True
    assert exchange.response.body_size == 5000


def test_base64_body_with_a_declared_charset(tmp_path: Path) -> None:
    entry = minimal_entry()
    text = "Société Générale"
    entry["response"]["content"] = {
        "mimeType": "text/plain; charset=iso-8859-1",
        "text": base64.b64encode(text.encode("latin-1")).decode(),
        "encoding": "base64",
    }
    (exchange,) = open_har(write_har(tmp_path / "cs.har", har_with(entry)))

    assert exchange.response.body == text


def test_a_relative_url_is_rebuilt_from_pseudo_headers(tmp_path: Path) -> None:
    pseudo = [
        {"name": ":authority", "value": "api.columbus.sage.com"},
        {"name": ":path", "value": "/uk/sage200/accounts/v1/sites?a=1"},
        {"name": ":scheme", "value": "https"},
        {"name": ":method", "value": "GET"},
    ]
    entry = minimal_entry(url="", headers=pseudo)
    del entry["request"]["method"]
    (exchange,) = open_har(write_har(tmp_path / "rel.har", har_with(entry)))

    assert exchange.request.url == "https://api.columbus.sage.com/uk/sage200/accounts/v1/sites?a=1"
    assert exchange.request.method == "GET"
    assert exchange.request.query == (("a", "1"),)


def test_a_relative_url_without_any_host_is_skipped(tmp_path: Path) -> None:
    capture = open_har(write_har(tmp_path / "rel.har", har_with(minimal_entry(url="/sites"))))

    assert list(capture) == []
    assert capture.skipped[0].reason.startswith("request.url is missing or relative")


# -- which exchanges are Sage traffic -----------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "face"),
    [
        ("https://id.sage.com/oauth/token", "identity"),
        ("https://id.sage.com/authorize?client_id=x", "identity"),
        ("https://ID.SAGE.COM/.well-known/jwks.json", "identity"),
        ("https://id-shadow.sage.com/oauth/token", "identity"),
        ("https://login.sage.com/authorize", "identity"),
        ("https://www.sage.com/en-gb/", None),
        ("https://api.columbus.sage.com/uk/sage200/accounts/v1/sites", "api"),
        ("https://api.columbus.sage.com/uk/sage200extra/accounts/v1/customers?$top=1", "api"),
        ("https://api.columbus.sage.com/uki/sageone/accounts/v3/contacts", None),
        ("https://sage.com.evil.test/oauth/token", None),
        ("https://fonts.googleapis.com/css", None),
        ("not a url", None),
    ],
)
def test_default_hosts(url: str, face: str | None) -> None:
    assert classify_host(url) == face


def test_configured_hosts_and_the_emulator_are_recognised() -> None:
    hosts = SageHosts().extended(
        identity=["https://auth.partner.test"], api=["gateway.partner.test:8443/uk/sage200/"]
    )
    emulator = SageHosts().with_emulator("http://127.0.0.1:8123")

    assert hosts.classify("https://auth.partner.test/oauth/token") == "identity"
    assert hosts.classify("https://gateway.partner.test:8443/uk/sage200/accounts/v1/sites") == "api"
    assert hosts.classify("https://gateway.partner.test/uk/sage200/accounts/v1/sites") is None
    assert classify_host("https://auth.partner.test/oauth/token") is None
    assert emulator.classify("http://127.0.0.1:8123/oauth/token") == "identity"
    assert emulator.classify("http://127.0.0.1:8123/uk/sage200extra/accounts/v1/sites") == "api"
    assert emulator.classify("http://127.0.0.1:9999/oauth/token") is None
    assert emulator.classify("https://id.sage.com/oauth/token") == "identity"


@pytest.mark.parametrize("spec", ["", "   ", "http://", "host:notaport"])
def test_bad_host_specs_are_refused(spec: str) -> None:
    with pytest.raises(ValueError, match=r"host|port"):
        SageHosts().extended(api=[spec])


def test_the_pure_python_backend_reads_the_same(tmp_path: Path) -> None:
    """Where ijson's C extension is missing, its Python backend gives the same exchanges."""
    cut = tmp_path / "cut.har"
    cut.write_bytes((FIXTURES / "chrome.har").read_bytes()[:-400])
    script = (
        "import sys\n"
        "from sage200_doctor.recorded import BACKEND, HarError, open_har\n"
        "urls = []\n"
        "try:\n"
        "    for path in sys.argv[1:]:\n"
        "        for exchange in open_har(path):\n"
        "            urls.append(exchange.request.url)\n"
        "except HarError as error:\n"
        "    print(BACKEND, len(urls), error.kind)\n"
    )
    env = {**os.environ, "IJSON_BACKEND": "python"}
    done = subprocess.run(
        [sys.executable, "-c", script, str(FIXTURES / "firefox.har"), str(cut)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=60,
    )

    assert done.stdout.split() == ["python", str(4 + 3), "truncated"]
