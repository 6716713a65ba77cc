"""Known secrets are found in the encodings servers echo them in, and only they are masked.

Percent-encoding in either case and twice over, HTML character references, JSON escapes,
base64 and hex runs of larger strings (hostile-world D5); text is redacted before it is cut
(D6). Masks cover exactly the escaped secret, or the whole encoded run that holds it.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Callable
from urllib.parse import quote, quote_plus, urlencode

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sage200_doctor.redact import Redactor, cut

SECRETS = {
    "client_secret": "cS9+Qx/7Zk=Lm9Pw2Rt8Yv4Nb6Hj3",
    "refresh_token": "rT7.Xq2-Lm7Wp4~Zs8Vb3_Nc6Hd1Jf5Gy0Ta",
    "subscription_key": "5ub5c71p710nk3y0a1b2c3d4e5f6a7b8",
    "password": 'p&ss"w<rd>é\\/+ 9',
}


def _lower_hex(text: str) -> str:
    return re.sub("%[0-9A-F]{2}", lambda m: m.group().lower(), text)


def _symbols(text: str, escape: Callable[[str], str]) -> str:
    return "".join(c if c.isalnum() else escape(c) for c in text)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _mime(text: str, newline: str) -> str:
    encoded = _b64("x" * 70 + text + "y" * 90)
    return newline.join(encoded[i : i + 76] for i in range(0, len(encoded), 76))


ENCODINGS: dict[str, Callable[[str], str]] = {
    "raw": lambda s: s,
    "quote": lambda s: quote(s, safe=""),
    "quote, lower-case hex": lambda s: _lower_hex(quote(s, safe="")),
    "quote_plus, lower-case hex (.NET UrlEncode)": lambda s: _lower_hex(quote_plus(s)),
    "double percent-encoding": lambda s: quote(quote(s, safe=""), safe=""),
    "double percent-encoding, lower-case hex": lambda s: _lower_hex(
        quote(quote(s, safe=""), safe="")
    ),
    "triple percent-encoding": lambda s: quote(quote(quote(s, safe=""), safe=""), safe=""),
    "HTML decimal references": lambda s: _symbols(s, lambda c: f"&#{ord(c)};"),
    "HTML decimal references, every character": lambda s: "".join(f"&#{ord(c)};" for c in s),
    "HTML hex references": lambda s: _symbols(s, lambda c: f"&#x{ord(c):X};"),
    "HTML hex references, lower case": lambda s: _symbols(s, lambda c: f"&#x{ord(c):x};"),
    "HTML references with leading zeros": lambda s: _symbols(s, lambda c: f"&#{ord(c):05d};"),
    "HTML named references": lambda s: (
        html.escape(s).replace("+", "&plus;").replace("/", "&sol;").replace("=", "&equals;")
    ),
    "JSON \\u escapes": lambda s: _symbols(s, lambda c: f"\\u{ord(c):04X}"),
    "JSON \\u escapes, lower case": lambda s: _symbols(s, lambda c: f"\\u{ord(c):04x}"),
    "JSON \\/ (PHP json_encode)": lambda s: json.dumps(s)[1:-1].replace("/", "\\/"),
    "HTML references inside JSON": lambda s: json.dumps(_symbols(s, lambda c: f"&#{ord(c)};"))[
        1:-1
    ].replace("&", "\\u0026"),
    "base64": _b64,
    "base64url": lambda s: base64.urlsafe_b64encode(s.encode()).decode().rstrip("="),
    "base64 of 'Bearer ' + value": lambda s: _b64(f"Bearer {s}"),
    "base64 of a whole form body": lambda s: _b64(
        urlencode({"grant_type": "refresh_token", "refresh_token": s, "scope": "openid"})
    ),
    "base64 of a JSON document": lambda s: _b64(json.dumps({"refresh_token": s, "n": 1})),
    "base64 twice": lambda s: _b64(_b64(f"x{s}")),
    "base64, percent-encoded": lambda s: quote(_b64(f"Bearer {s}"), safe=""),
    "base64 with JSON \\/": lambda s: _b64(f"Bearer {s}?").replace("/", "\\/"),
    "base64 after a path": lambda s: "/uk/sage200/v1/" + _b64(f"ab{s}"),
    "MIME base64, CRLF": lambda s: _mime(s, "\r\n"),
    "MIME base64, LF": lambda s: _mime(s, "\n"),
    "hex": lambda s: s.encode().hex(),
    "HEX": lambda s: s.encode().hex().upper(),
    "hex of 'Bearer ' + value": lambda s: f"Bearer {s}".encode().hex(),
    "0x hex": lambda s: "0x" + s.encode().hex(),
}


def redactor() -> Redactor:
    r = Redactor()
    for label, secret in SECRETS.items():
        r.add(label, secret)
    return r


@pytest.mark.parametrize("label", SECRETS)
@pytest.mark.parametrize("encoding", ENCODINGS)
def test_a_known_secret_is_masked_in_every_encoding(label: str, encoding: str) -> None:
    form = ENCODINGS[encoding](SECRETS[label]).strip()
    masked = redactor().text(f"before {form} after")
    assert masked == f"before [redacted:{label}] after"


def test_only_the_secret_is_masked_in_an_encoded_url() -> None:
    secret = SECRETS["client_secret"]
    url = "/cb?next=%2Fhome%3Fa%3D1&note={}&x=%41&y=caf%C3%A9"
    masked = redactor().text(url.format(_lower_hex(quote(secret, safe=""))))
    assert masked == url.format("[redacted:client_secret]")
    twice = "https://x.test/go?to=" + quote("https://y.test/?s=" + quote(secret, safe=""))
    assert (
        redactor().text(twice)
        == "https://x.test/go?to=https%3A//y.test/%3Fs%3D[redacted:client_secret]"
    )


def test_an_encoded_run_that_holds_a_secret_is_masked_whole() -> None:
    header = _b64(f"Bearer {SECRETS['refresh_token']}")
    text = f"the header was {header}, and it was refused"
    assert redactor().text(text) == "the header was [redacted:refresh_token], and it was refused"


@pytest.mark.parametrize(
    "innocent",
    [
        "GET /uk/sage200/accounts/v1/customers?$filter=reference%20eq%20%27A1D001%27&$top=5",
        "&lt;p class=&quot;s2d-lead&quot;&gt;Caf&eacute; &amp; &#169; 2026&lt;/p&gt;",
        '{"Message": "Authorization has been denied \\u0027for\\u0027 this \\/ request."}',
        "6800e15c-6a18-4a3d-bc22-a09f89ac2d01 etag 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        _b64("an ordinary document with no secret in it at all, quite long " * 3),
        _mime("nothing to see here", "\r\n"),
        "x" * 3000,
        "sage200_doctor.checks.customers_query_conformance passed",
        "copy&paste &copy=1 &notify=yes %zz %2 \\q \\u12",
    ],
)
def test_innocent_text_is_left_alone(innocent: str) -> None:
    assert redactor().text(innocent) == innocent


def test_a_secret_with_a_space_is_found_form_encoded_with_lower_case_hex() -> None:
    secret = SECRETS["password"]
    form = _lower_hex(urlencode({"password_field": secret}))
    assert secret not in redactor().text(form)
    assert redactor().text(form) == "password_field=[redacted:password]"


_TOKEN = st.text(
    st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/="),
    min_size=16,
    max_size=48,
)
_STEPS = st.sampled_from(
    [
        lambda s: quote(s, safe=""),
        lambda s: _lower_hex(quote_plus(s)),
        lambda s: _symbols(s, lambda c: f"&#{ord(c)};"),
        lambda s: _symbols(s, lambda c: f"\\u{ord(c):04x}"),
        lambda s: _b64(f"k={s};"),
        lambda s: s.encode().hex(),
        lambda s: json.dumps(s)[1:-1].replace("/", "\\/"),
    ]
)
_WORDS = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz ,.:"), max_size=40)


@settings(max_examples=200, deadline=None, database=None)
@given(secret=_TOKEN, steps=st.lists(_STEPS, min_size=1, max_size=2), before=_WORDS, after=_WORDS)
def test_no_encoding_chain_of_a_secret_survives(
    secret: str, steps: list[Callable[[str], str]], before: str, after: str
) -> None:
    assume(len(set(secret)) >= 8)  # a token, not "aaaa…"
    assume(secret not in f"{before} {after}")  # the innocent text is innocent
    r = Redactor()
    r.add("secret", secret)
    form = secret
    for step in steps:
        form = step(form)
    assert r.text(f"{before} {form} {after}") == f"{before} [redacted:secret] {after}"


def test_text_is_redacted_before_it_is_cut() -> None:
    r = redactor()
    secret = SECRETS["refresh_token"]
    text = "E" * 60 + " " + secret + " end"
    excerpt = r.excerpt(text, 80)
    assert not any(secret[:n] in excerpt for n in range(4, len(secret) + 1))
    assert excerpt == "E" * 60 + " [redacted:refresh_token]…"  # the mask is kept whole
    assert r.excerpt("short " + secret, 80) == "short [redacted:refresh_token]"
    assert r.excerpt("x" * 100, 80, suffix=" …(cut)") == "x" * 80 + " …(cut)"


def test_cut_never_splits_a_mask() -> None:
    text = "a" * 10 + "[redacted:client_secret]" + "b" * 10
    assert cut(text, 15) == "a" * 10 + "[redacted:client_secret]…"
    assert cut(text, 10) == "a" * 10 + "…"
    assert cut(text, 100) == text
