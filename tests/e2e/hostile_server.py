"""A small hostile Sage-200-like server on 127.0.0.1 for the redaction tests.

Healthy by default (discovery, a token endpoint minting an unsigned-key HS256 JWT, the API root,
sites, customers); any route's answer can be replaced by a function of the request, which is
how a test makes the server echo a secret, hand out a chosen "token" or send control
characters. The canary secrets below are written only to the test's own env file.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal
from urllib.parse import parse_qsl

AUDIENCE = "s200ukipd/sage200"
SITE_ID = "6800e15c-6a18-4a3d-bc22-a09f89ac2d01"
COMPANY_ID = 33
DENIED = "Authorization has been denied for this request."
SITES = [
    {
        "company_id": COMPANY_ID,
        "company_name": "Co UK",
        "site_id": SITE_ID,
        "site_name": "Site",
        "site_short_name": "S",
        "tenant_id": 1,
    }
]
CUSTOMER = {"id": 27825, "reference": "A1D001", "name": "Cust", "short_name": "A1D001"}
CLIENT_SECRET = "cS9+Qx/7Zk=Lm9Pw2Rt8Yv4Nb6Hj3"
REFRESH_TOKEN = "rT9+Kq2/Lm7Wp4=Zs8Vb3Nc6Hd1Jf5Gy0Tb"
SUBSCRIPTION_KEY = "5ub5c71p710nk3y0a1b2c3d4e5f6a7b8"
SECRETS = {
    "SAGE200_CLIENT_SECRET": CLIENT_SECRET,
    "SAGE200_REFRESH_TOKEN": REFRESH_TOKEN,
    "SAGE200_SUBSCRIPTION_KEY": SUBSCRIPTION_KEY,
}


@dataclass(frozen=True)
class Request:
    base: str
    """The server's own base URL (the issuer of the tokens it mints is `base + "/"`)."""
    method: str
    route: str
    path: str
    headers: dict[str, str]
    body: bytes
    query: str = ""

    @property
    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("utf-8", "replace")))

    @property
    def authorized(self) -> bool:
        return bool(self.headers.get("authorization"))


@dataclass(frozen=True)
class Reply:
    status: int
    body: object
    """Serialised as JSON unless it is a str (sent as it is, with `content_type`)."""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    """More headers (Retry-After, Date, Location …), sent as they are."""


@dataclass(frozen=True)
class Trickle:
    """An answer that never finishes: one byte every `interval_s` (never silent long enough for
    a read timeout) of the status line and headers (`headers`), of a body promised by its
    Content-Length (`body`), or of one-byte chunks (`chunked`), until the client leaves."""

    part: Literal["headers", "body", "chunked"]
    interval_s: float = 0.25

    def send(self, write: Callable[[bytes], None]) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        if self.part == "headers":
            self._drip(write, head * 10_000)
        elif self.part == "body":
            write(head + b"Content-Length: 100000\r\n\r\n[")
            self._drip(write, b" " * 100_000)
        else:
            write(head + b"Transfer-Encoding: chunked\r\n\r\n")
            self._drip(write, b"1\r\n \r\n" * 100_000, size=6)

    def _drip(self, write: Callable[[bytes], None], data: bytes, size: int = 1) -> None:
        for start in range(0, len(data), size):
            time.sleep(self.interval_s)
            try:
                write(data[start : start + size])
            except OSError:  # the client gave up: the point
                return


Route = Callable[[Request], "Reply | Trickle | None"]
"""Answers a request, or returns None to leave it to the healthy default."""


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def mint_jwt(issuer: str) -> str:
    now = int(time.time())
    claims = {"iss": issuer, "aud": AUDIENCE, "exp": now + 3600, "iat": now, "sub": "u1"}
    claims["scope"] = "openid profile email offline_access"
    signing = _b64url(b'{"alg":"HS256","typ":"JWT"}') + "." + _b64url(json.dumps(claims).encode())
    signature = hmac.new(b"k", signing.encode(), hashlib.sha256).digest()
    return signing + "." + _b64url(signature)


def token_body(base: str, **extra: object) -> dict[str, object]:
    """A token endpoint's answer: a fresh access token, and whatever `extra` adds."""
    body = {"access_token": mint_jwt(base + "/"), "token_type": "Bearer", "expires_in": 3600}
    return {**body, "scope": "openid profile email offline_access", **extra}


def route_of(path: str) -> str:
    if path.startswith("/.well-known/openid-configuration"):
        return "discovery"
    if path.startswith("/oauth/token"):
        return "token"
    tail = path.split("/accounts/v1/", 1)[1] if "/accounts/v1/" in path else None
    if tail is None:
        return "other"
    return {"": "api_root"}.get(tail, tail.split("/")[0].split("?")[0])


@dataclass
class HostileServer:
    routes: dict[str, Route] = field(default_factory=dict)
    base: str = ""
    seen: list[Request] = field(default_factory=list)

    def default(self, request: Request) -> Reply:
        if request.route == "discovery":
            return Reply(200, {"issuer": self.base + "/", "token_endpoint": self.token_url})
        if request.route == "token":
            return Reply(200, token_body(self.base))
        if request.route in ("api_root", "sites", "customers") and not request.authorized:
            return Reply(401, {"Message": DENIED})
        if request.route == "sites":
            return Reply(200, SITES)
        if request.route == "customers":
            return Reply(200, [CUSTOMER] if "/customers/" not in request.path else CUSTOMER)
        return Reply(404, {"Message": "No HTTP resource was found"})

    def answer(self, request: Request) -> Reply | Trickle:
        self.seen.append(request)
        route = self.routes.get(request.route)
        return (route(request) if route else None) or self.default(request)

    @property
    def token_url(self) -> str:
        return f"{self.base}/oauth/token"

    def env_lines(self, **extra: str) -> str:
        """The env file for a run against this server; in `extra`, `{base}` is its base URL and
        `{host}` its `host:port`."""
        values = {
            "SAGE200_EDITION": "standard",
            "SAGE200_API_BASE_URL": f"{self.base}/uk/sage200/accounts/v1/",
            "SAGE200_TOKEN_URL": self.token_url,
            "SAGE200_CLIENT_ID": "hostile-client",
            **SECRETS,
            "SAGE200_SITE_ID": SITE_ID,
            "SAGE200_COMPANY_ID": str(COMPANY_ID),
            "SAGE200_CUSTOMER_REFERENCE": "A1D001",
            "SAGE200_TIMEOUT_S": "5",
            **{key: self._placed(value) for key, value in extra.items()},
        }
        return "".join(f"{key}='{value}'\n" for key, value in values.items())

    def _placed(self, value: str) -> str:
        host = self.base.split("://", 1)[1]
        return value.replace("{base}", self.base).replace("{host}", host)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "hostile/1"

    def _handle(self) -> None:
        hostile: HostileServer = self.server.hostile  # type: ignore[attr-defined]
        length = int(self.headers.get("content-length") or 0)
        path = self.path.split("?", 1)[0]
        headers = {name.lower(): value for name, value in self.headers.items()}
        body = self.rfile.read(length) if length else b""
        query = self.path.partition("?")[2]
        request = Request(hostile.base, self.command, route_of(path), path, headers, body, query)
        reply = hostile.answer(request)
        if isinstance(reply, Trickle):
            self.close_connection = True
            reply.send(self._write_now)
            return
        raw = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
        data = raw.encode("utf-8", "surrogateescape")
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        for name, value in reply.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _write_now(self, data: bytes) -> None:
        self.wfile.write(data)
        self.wfile.flush()

    do_GET = do_POST = _handle

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def hostile_server(routes: dict[str, Route]) -> Iterator[HostileServer]:
    """Serve `routes` over the healthy default on 127.0.0.1 (a free port) until the block ends."""
    hostile = HostileServer(routes)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.hostile = hostile  # type: ignore[attr-defined]
    hostile.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield hostile
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()
