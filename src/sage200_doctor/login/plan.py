"""The sign-in plan: PKCE, where Sage ID sends the browser back, and the authorize URL."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import secrets
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from sage200_doctor.config.settings import Settings

DEFAULT_PORT: Final = 8765


CALLBACK_PATH: Final = "/callback"


@dataclass(frozen=True)
class Pkce:
    verifier: str
    challenge: str

    @classmethod
    def new(cls) -> Pkce:
        verifier = secrets.token_urlsafe(64)  # 86 unreserved characters (RFC 7636: 43 to 128)
        digest = hashlib.sha256(verifier.encode("ascii")).digest()
        return cls(verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii"))


@dataclass(frozen=True)
class RedirectPlan:
    """Where the browser comes back. A registered URI is sent byte for byte as it is configured,
    because Sage ID compares redirect URIs exactly."""

    bind_host: str
    port: int
    path: str = CALLBACK_PATH
    registered: str | None = None
    registered_port: int | None = None
    note: str | None = None

    def uri_for(self, port: int) -> str:
        """The redirect URI once the server listens on `port` (known only then for port 0)."""
        if self.registered is None:
            return f"http://127.0.0.1:{port}{self.path}"
        if port == self.registered_port:
            return self.registered
        parts = urlsplit(self.registered)
        return urlunsplit(parts._replace(netloc=f"{parts.hostname}:{port}"))


def plan_redirect(registered: str | None, port: int | None) -> RedirectPlan:
    """Use SAGE200_REDIRECT_URI when it is an http:// loopback address, else 127.0.0.1."""
    fallback = RedirectPlan("127.0.0.1", DEFAULT_PORT if port is None else port)
    if registered is None:
        return fallback
    parts = urlsplit(registered)
    try:
        registered_port = parts.port or 80
    except ValueError:  # a port that is not a number
        registered_port = None
    host = (parts.hostname or "").lower()
    if parts.scheme != "http" or registered_port is None or not _is_loopback(host):
        note = (
            f"SAGE200_REDIRECT_URI ({registered}) is not an http:// address on 127.0.0.1 or"
            " localhost, so the sign-in cannot come back to this machine there; using"
            f" {fallback.uri_for(fallback.port)} instead, which must also be registered for"
            " the client."
        )
        return dataclasses.replace(fallback, note=note)
    return RedirectPlan(
        bind_host="127.0.0.1" if host == "localhost" else host,
        port=registered_port if port is None else port,
        path=parts.path or "/",
        registered=registered,
        registered_port=registered_port,
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    pieces = host.split(".")
    return len(pieces) == 4 and pieces[0] == "127" and all(p.isdigit() for p in pieces)


def authorization_url(settings: Settings, *, redirect_uri: str, state: str, pkce: Pkce) -> str:
    assert settings.client_id is not None  # checked before any request is planned
    params = {
        "response_type": "code",
        "client_id": settings.client_id,
        "redirect_uri": redirect_uri,
        "scope": settings.scope,
        "audience": settings.audience,
        "state": state,
        "code_challenge": pkce.challenge,
        "code_challenge_method": "S256",
    }
    joiner = "&" if urlsplit(settings.auth_url).query else "?"
    return settings.auth_url + joiner + urlencode(params, quote_via=quote)
