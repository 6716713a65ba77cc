"""Every credential a capture carries, registered with the redactor before anything is shown.

A HAR holds live access and refresh tokens, cookies, client secrets in token requests and
subscription keys, in plain text. Each exchange is read for them where they stand (headers,
cookies, form and query fields, token answers, the user info of URLs, a redirect's target) and
each value is registered with `Redactor.add`, so that it and its encodings are masked wherever
they turn up in what triage writes. The capture itself is only read, never changed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlsplit

from sage200_doctor.redact import Redactor, is_secret_name, url_password
from sage200_doctor.redact.shapes import ERROR_CODE
from sage200_doctor.rules.authorization import bare_token

from .model import Header, Pair, RecordedExchange

MAX_JSON_CHARS = 256_000
"""Bodies longer than this are not parsed for token fields (no token answer is that long)."""
_AUTH_HEADERS = ("authorization", "proxy-authorization")
_COOKIE_HEADERS = ("cookie", "set-cookie")


class SecretLearner:
    """Registers what one capture shows as credentials, each value once."""

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor
        self._seen: set[bytes] = set()
        self.count = 0
        """Distinct values registered."""

    def learn(self, exchange: RecordedExchange) -> None:
        request, response = exchange.request, exchange.response
        self._headers(request.headers)
        self._headers(response.headers)
        self._fields(request.query, "query")
        self._fields(request.form, "form")
        for url in (request.url, response.redirect_url or "", response.header("location") or ""):
            self._url(url)
        for body in (request.body, response.body):
            if body:
                self._json_body(body)

    def add(self, label: str, value: str) -> None:
        text = value.strip()
        if not text:
            return
        digest = hashlib.blake2b(f"{label}\0{text}".encode(), digest_size=16).digest()
        if digest in self._seen:
            return
        self._seen.add(digest)
        self.count += 1
        self.redactor.add(label, text)

    def _headers(self, headers: Iterable[Header]) -> None:
        for name, value in headers:
            if name in _AUTH_HEADERS:
                self._authorization(value)
            elif name in _COOKIE_HEADERS:
                self._cookies(name, value)
            elif is_secret_name(name):
                self.add(name, value)

    def _authorization(self, value: str) -> None:
        self.add("authorization", value)
        scheme, _, credentials = value.strip().partition(" ")
        token = credentials.strip() if scheme.lower() in ("bearer", "basic") else value
        self.add("access_token", bare_token(value))
        if scheme.lower() == "basic":
            self._basic(token)

    def _basic(self, credentials: str) -> None:
        """base64(`client_id:secret`), each part form-encoded or not (RFC 6749 §2.3.1)."""
        try:
            pair = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
        except (binascii.Error, ValueError, UnicodeDecodeError):
            return
        client_id, colon, secret = pair.partition(":")
        if not colon or not secret:
            return
        self.add("client_secret", secret)
        self.add("client_secret", unquote_plus(secret))
        self.redactor.add_basic_credentials(unquote_plus(client_id), unquote_plus(secret))

    def _cookies(self, name: str, value: str) -> None:
        self.add(name, value)
        pairs = value.split(";")[:1] if name == "set-cookie" else value.split(";")
        for pair in pairs:
            _, equals, cookie = pair.partition("=")
            if equals:
                self.add("cookie", cookie)
                self.add("cookie", unquote_plus(cookie))

    def _fields(self, fields: Iterable[Pair], where: str) -> None:
        for name, value in fields:
            if _holds_credential(name, value):
                self.add(f"{where}:{name.lower()}", value)

    def _url(self, url: str) -> None:
        if not url:
            return
        password = url_password(url)
        if password:
            self.add("url_password", password)
            self.add("url_password", unquote_plus(password))
        try:
            parts = urlsplit(url)
        except ValueError:
            return
        for text in (parts.query, parts.fragment):
            self._fields(parse_qsl(text, keep_blank_values=False, errors="replace"), "url")

    def _json_body(self, body: str) -> None:
        text = body.lstrip()
        if not text.startswith("{") or len(text) > MAX_JSON_CHARS:
            return
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            return
        self._json_fields(data, depth=0)

    def _json_fields(self, data: Any, *, depth: int) -> None:
        if depth > 3 or not isinstance(data, dict):
            return
        for key, value in data.items():
            if isinstance(value, str) and _holds_credential(str(key), value):
                self.add(f"json:{str(key).lower()}", value)
            elif isinstance(value, dict):
                self._json_fields(value, depth=depth + 1)


def _holds_credential(name: str, value: str) -> bool:
    """A field named like a credential; `code` also names error codes, which are not."""
    if not is_secret_name(name):
        return False
    return name.lower() != "code" or not ERROR_CODE.fullmatch(value)
