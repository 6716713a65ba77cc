"""`sage200-doctor login`: sign in with Sage ID in a browser and save the tokens (issue 9).

The authorization code flow with PKCE (S256) and a random `state`, redirected to a one-shot
server on the loopback interface (RFC 8252). Before the browser opens, the authorize URL is
fetched once without following redirects: Sage ID answers an unregistered redirect URI with an
error page and never calls back, and a user staring at that page would otherwise wait for the
timeout. The code exchange goes through `Session` like every other request; the tokens go into
the env file through `update_env_file` (atomic, 0600, backup). Nothing here prints a token, the
code, the verifier or the client secret: the only text from a server that reaches the terminal
passes the redactor first.
"""

from __future__ import annotations

import base64
import dataclasses
import errno
import hashlib
import hmac
import math
import os
import secrets
import shlex
import stat
import sys
import threading
import time
import webbrowser
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from html import escape
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Final
from urllib.parse import parse_qs, quote, urlencode, urlsplit, urlunsplit

from sage200_doctor.config.envfile import update_env_file
from sage200_doctor.config.settings import LoadedSettings, Settings, UsageError, load_settings
from sage200_doctor.http.oauth import (
    TokenError,
    TokenGrant,
    basic_credentials,
    describe_duration,
    parse_token_answer,
)
from sage200_doctor.http.session import Answer, Session, build_client
from sage200_doctor.redact import Redactor, quiet_http_loggers

DEFAULT_PORT: Final = 8765
DEFAULT_TIMEOUT_S: Final = 300.0
CALLBACK_PATH: Final = "/callback"
EXIT_FINDING: Final = 1
EXIT_CONFIG: Final = 2
EXIT_UNREACHABLE: Final = 3
EXIT_USAGE: Final = 4
_LOGIN_KEYS: Final = frozenset(
    {
        "SAGE200_AUTH_URL",
        "SAGE200_TOKEN_URL",
        "SAGE200_AUDIENCE",
        "SAGE200_CLIENT_ID",
        "SAGE200_CLIENT_SECRET",
        "SAGE200_CLIENT_AUTH",
        "SAGE200_REDIRECT_URI",
        "SAGE200_SCOPE",
        "SAGE200_TIMEOUT_S",
        "SAGE200_CA_BUNDLE",
    }
)
_EXCERPT_CHARS: Final = 240


class LoginFailed(Exception):
    """A finding that ends the login: one or two sentences for the user, and the exit code."""

    def __init__(self, message: str, exit_code: int = EXIT_FINDING) -> None:
        super().__init__(message)
        self.exit_code = exit_code


# --- the pieces of the request ----------------------------------------------------------------


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


# --- asking Sage ID ---------------------------------------------------------------------------


def preflight(
    session: Session, redactor: Redactor, url: str, *, redirect_uri: str, client_id: str
) -> None:
    """Fetch the authorize URL once, as a browser would, to catch a request Sage ID refuses
    without ever calling back (an unregistered redirect URI shows an error page)."""
    answer = session.request("GET", url, headers={"Accept": "text/html"}, retry_rate_limit=False)
    base = url.split("?", 1)[0]
    if answer.problem is not None:
        raise LoginFailed(
            f"Could not reach the Sage ID sign-in page {base}: {answer.problem.sentence}",
            EXIT_UNREACHABLE,
        )
    status = answer.status or 0
    if 300 <= status < 400:
        _check_preflight_redirect(answer, redactor, redirect_uri)
    elif status >= 500:
        raise LoginFailed(
            f"The Sage ID sign-in page {base} answered HTTP {status}, a fault on its side;"
            " try again in a few minutes."
        )
    elif status >= 400:
        said = _shorten(redactor.safe_text(_page_text(answer.text)))
        raise LoginFailed(
            f"Sage ID answered the sign-in request with an error page (HTTP {status}) and would"
            f" never call back{' (' + said + ')' if said else ''}. The usual cause is a redirect"
            f" URI that is not registered for client {client_id}: register exactly"
            f" {redirect_uri}, or set SAGE200_REDIRECT_URI to a loopback URI that is registered."
        )


def _check_preflight_redirect(answer: Answer, redactor: Redactor, redirect_uri: str) -> None:
    """A redirect carrying `error` (back to us, or to Sage ID's error page) ends the login now;
    any other redirect, to the login form, is the normal case. The Location is never shown."""
    location = answer.headers.get("location", "")
    query = _first_values(urlsplit(location).query)
    error = query.get("error")
    if error is None:
        return
    description = _shorten(redactor.safe_text(query.get("error_description", "")))
    if location.split("?", 1)[0] == redirect_uri.split("?", 1)[0]:
        raise LoginFailed(_callback_error(error, description))
    raise LoginFailed(
        f"Sage ID sent the sign-in request to an error page ({error}: {description}). The usual"
        " cause is a redirect URI that is not registered for the client: register exactly"
        f" {redirect_uri}, or set SAGE200_REDIRECT_URI to a loopback URI that is registered."
    )


def _first_values(query: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(query, keep_blank_values=True).items()}


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _EXCERPT_CHARS else text[: _EXCERPT_CHARS - 1] + "…"


class _PageText(HTMLParser):
    """The visible text of an HTML page (the title is left out: the heading repeats it)."""

    _HIDDEN = ("title", "style", "script")

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self._hidden += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN and self._hidden:
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def _page_text(html: str) -> str:
    parser = _PageText()
    parser.feed(html[:20_000])
    parser.close()
    return " ".join(parser.parts)


def exchange_code(
    session: Session, settings: Settings, *, code: str, verifier: str, redirect_uri: str
) -> Answer:
    """The one POST of a login: code and verifier for tokens, with the configured client
    authentication (the same rules as the refresh grant in `http.oauth.refresh`)."""
    assert settings.client_id is not None
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
    }
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    secret = settings.client_secret.reveal() if settings.client_secret else None
    if settings.client_auth == "basic" and secret is not None:
        headers["Authorization"] = basic_credentials(settings.client_id, secret)
    else:
        form["client_id"] = settings.client_id
        if secret is not None:
            form["client_secret"] = secret
    return session.request(
        "POST", settings.token_url, headers=headers, form=form, retry_rate_limit=False
    )


# --- the loopback callback --------------------------------------------------------------------


@dataclass(frozen=True)
class Callback:
    """What the browser brought back (the query of the redirect)."""

    params: Mapping[str, str]

    @property
    def code(self) -> str | None:
        return self.params.get("code") or None

    @property
    def error(self) -> str | None:
        return self.params.get("error") or None


_PAGE = (
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>sage200-doctor</title>'
    "<style>body{{font-family:sans-serif;max-width:32em;margin:3em auto}}</style></head>"
    "<body><h1>{title}</h1><p>{text}</p></body></html>"
)


class _LoopbackServer(ThreadingHTTPServer):
    # Windows' SO_REUSEADDR lets a second program take a port that is in use: never ask for it.
    allow_reuse_address = sys.platform != "win32"
    daemon_threads = True


class CallbackServer:
    """A one-shot HTTP server on loopback: the first request to the callback path is kept,
    answered with a "you can close this tab" page, and the server stops.

    Threaded, because browsers open spare connections that never send a request; a
    single-threaded server would sit on one of those while the real callback waits.
    """

    def __init__(self, host: str, port: int, path: str) -> None:
        self._path = path
        self._received: Callback | None = None
        self._done = threading.Event()
        self._server = _LoopbackServer((host, port), self._handler_class())
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"sage200-login-callback-{self.port}",
            daemon=True,
        )
        self._thread.start()

    def wait(self, timeout_s: float) -> Callback | None:
        self._done.wait(timeout_s)
        return self._received

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> CallbackServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _accept(self, query: str) -> tuple[str, str]:
        """Keep the first callback; the page to show for this request."""
        if self._done.is_set():
            return "Already done", "This sign-in has already finished. You can close this tab."
        self._received = Callback(_first_values(query))
        self._done.set()
        if self._received.code and not self._received.error:
            return "Signed in", "You can close this tab and return to the terminal."
        return (
            "Sign-in did not complete",
            "You can close this tab; the terminal says what happened and what to do next.",
        )

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            timeout = 10  # a connection that sends nothing is dropped, not waited on forever

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path != owner._path:
                    self._answer(404, "Not found", "This is the sage200-doctor login callback.")
                    return
                self._answer(200, *owner._accept(parts.query))

            def _answer(self, status: int, title: str, text: str) -> None:
                body = _PAGE.format(title=escape(title), text=escape(text)).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                """Silent: the request line carries the authorization code."""

        return Handler


def start_callback_server(plan: RedirectPlan) -> CallbackServer:
    try:
        return CallbackServer(plan.bind_host, plan.port, plan.path)
    except OSError as error:
        in_use = error.errno in (errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", -1))
        reason = "is already in use" if in_use else f"cannot be used ({error.strerror or error})"
        raise LoginFailed(
            f"Port {plan.port} on {plan.bind_host} {reason}, so the sign-in cannot come back"
            " there (is another login still waiting?). Stop whatever holds it, or pick another"
            " port with --port N and register http://127.0.0.1:N/callback for the client."
        ) from None


# --- what came back ---------------------------------------------------------------------------


def _callback_error(error: str, description: str) -> str:
    said = f" ({error}: {description})" if description else f" ({error})"
    if error == "access_denied" and "service not found" in description.lower():
        return (
            f"Sage ID refused the sign-in request{said}: it does not know the audience."
            " Check SAGE200_AUDIENCE (s200ukipd/sage200 for Sage 200)."
        )
    if error == "access_denied":
        return (
            f"Consent was refused on the Sage ID page, so no tokens were issued{said}."
            " Run login again and choose Allow."
        )
    return f"Sage ID returned an error instead of a code{said}; no tokens were issued."


def check_callback(
    callback: Callback | None,
    *,
    state: str,
    redirect_uri: str,
    timeout_s: float,
    redactor: Redactor | None = None,
) -> str:
    """The authorization code, or a finding that says why there is none."""
    if callback is None:
        raise LoginFailed(
            f"No sign-in came back to {redirect_uri} within {timeout_s:g} s. If the browser"
            " showed a Sage ID error page, the most common cause is a redirect URI that is not"
            f" registered for the client (register exactly {redirect_uri}); otherwise run login"
            " again and finish signing in within --timeout SECONDS."
        )
    returned_state = callback.params.get("state", "")
    if not hmac.compare_digest(returned_state.encode(), state.encode()):
        raise LoginFailed(
            "The sign-in that came back does not belong to this login (its state does not"
            " match), so it was not used. Close any Sage ID tabs left from earlier attempts and"
            " run login again."
        )
    if callback.error is not None:
        description = callback.params.get("error_description", "")
        description = _shorten(redactor.safe_text(description) if redactor else description)
        raise LoginFailed(_callback_error(callback.error, description))
    if callback.code is None:
        raise LoginFailed("Sage ID called back without an authorization code; run login again.")
    return callback.code


def token_failure(failure: TokenError, settings: Settings, redactor: Redactor) -> LoginFailed:
    said = _shorten(redactor.safe_text(failure.description))
    label = f"{failure.error}: {said}" if failure.error and said else (failure.error or said)
    if failure.error == "invalid_client":
        other = "body" if settings.client_auth == "basic" else "basic"
        return LoginFailed(
            f"Sage ID rejected the client credentials when exchanging the code ({label})."
            " Check SAGE200_CLIENT_ID and SAGE200_CLIENT_SECRET, or try"
            f" SAGE200_CLIENT_AUTH={other}; see `sage200-doctor explain guide.auth.credentials`."
        )
    if failure.error == "invalid_grant":
        return LoginFailed(
            f"Sage ID did not accept the authorization code ({label}). Codes are single-use and"
            " expire within a minute or so: run login again."
        )
    status = f"HTTP {failure.status}" if failure.status is not None else "no answer"
    return LoginFailed(f"The code exchange at the token endpoint failed ({status}, {label}).")


def describe_grant(grant: TokenGrant, requested_scope: str) -> list[str]:
    """What was granted, for the terminal: scopes, refresh token, expiry (never a value)."""
    requested = requested_scope.split()
    lines = [f"  scopes:        {grant.scope or f'not stated (asked for: {requested_scope})'}"]
    if grant.refresh_token is not None:
        lines.append("  refresh token: yes; the run uses it to mint fresh access tokens")
    elif "offline_access" not in requested:
        lines.append(
            "  refresh token: none, because offline_access was missing from the scope; add it"
            " to SAGE200_SCOPE and sign in again, or the tokens stop working when this one expires"
        )
    else:
        lines.append(
            "  refresh token: none, although offline_access was asked for; ask Sage Developer"
            " Services whether this client may have refresh tokens"
        )
    if grant.expires_in is not None:
        at = time.strftime("%H:%M", time.localtime(time.time() + grant.expires_in))
        left = describe_duration(grant.expires_in)
        lines.append(f"  access token:  expires in {left} (at {at} local time)")
    else:
        lines.append("  access token:  expiry not stated by Sage ID")
    return lines


# --- the command ------------------------------------------------------------------------------


def command(
    env_file: Path | None,
    *,
    no_browser: bool,
    timeout_s: float,
    port: int | None,
    opener: Callable[[str], bool] | None = None,
) -> int:
    """`sage200-doctor login`: 0 when the tokens were saved, else a finding and its exit code
    (1 the sign-in failed, 2 configuration unusable, 3 Sage ID unreachable, 4 usage)."""
    quiet_http_loggers()
    try:
        target = _check_usage(env_file, timeout_s, port)
        settings = _load(target)
        _login(
            settings,
            target,
            no_browser=no_browser,
            timeout_s=timeout_s,
            port=port,
            opener=opener or webbrowser.open,
        )
    except LoginFailed as failure:
        print(f"sage200-doctor login: {failure}", file=sys.stderr)
        return failure.exit_code
    return 0


def _check_usage(env_file: Path | None, timeout_s: float, port: int | None) -> Path:
    if not (math.isfinite(timeout_s) and timeout_s > 0):
        raise LoginFailed("--timeout must be a positive number of seconds.", EXIT_USAGE)
    if port is not None and not 0 <= port <= 65535:
        raise LoginFailed("--port must be between 1 and 65535 (0: any free port).", EXIT_USAGE)
    target = env_file if env_file is not None else Path(".env")
    if target.is_dir():
        raise LoginFailed(f"the env file {target} is a directory, not a file.", EXIT_USAGE)
    if not target.parent.is_dir():
        raise LoginFailed(
            f"the env file {target} cannot be created: {target.parent} is not a directory.",
            EXIT_USAGE,
        )
    return target


def _load(target: Path) -> Settings:
    """Settings from `target` (when it exists yet) and the environment; exit 2 when they
    cannot name a client, or a value login needs is wrong."""
    try:
        if target.exists():
            loaded: LoadedSettings = load_settings(target)
        else:  # created at the end; until then only the environment can name the client
            loaded = load_settings(None, default_env_file=target)
    except UsageError as error:
        raise LoginFailed(str(error), EXIT_USAGE) from None
    settings = loaded.settings
    if not settings.client_id:
        raise LoginFailed(
            f"SAGE200_CLIENT_ID is not set, so there is no client to sign in with. Add"
            f" SAGE200_CLIENT_ID=<your client id> to {target} (from your Sage 200 API"
            " credentials) and run login again.",
            EXIT_CONFIG,
        )
    errors = [p for p in loaded.problems if p.severity == "error" and p.key in _LOGIN_KEYS]
    if errors:
        told = " ".join(
            f"{p.message}." + (f" {p.suggestion}" if p.suggestion else "") for p in errors
        )
        raise LoginFailed(f"the configuration cannot be used to sign in: {told}", EXIT_CONFIG)
    return settings


def _login(
    settings: Settings,
    target: Path,
    *,
    no_browser: bool,
    timeout_s: float,
    port: int | None,
    opener: Callable[[str], bool],
) -> None:
    assert settings.client_id is not None
    plan = plan_redirect(settings.redirect_uri, port)
    if plan.note:
        print(f"Note: {plan.note}")
    redactor = _redactor(settings)
    pkce, state = Pkce.new(), secrets.token_urlsafe(32)
    redactor.add("code_verifier", pkce.verifier)
    session = Session(
        build_client(timeout_s=settings.timeout_s, ca_bundle=settings.ca_bundle), redactor
    )
    try:
        with start_callback_server(plan) as server:
            redirect_uri = plan.uri_for(server.port)
            if plan.registered is not None and redirect_uri != plan.registered:
                print(
                    f"Note: using {redirect_uri} as asked with --port, not {plan.registered}"
                    " from SAGE200_REDIRECT_URI; it must be registered for the client as well."
                )
            url = authorization_url(settings, redirect_uri=redirect_uri, state=state, pkce=pkce)
            preflight(
                session, redactor, url, redirect_uri=redirect_uri, client_id=settings.client_id
            )
            _send_user_to(url, no_browser=no_browser, opener=opener, timeout_s=timeout_s)
            callback = server.wait(timeout_s)
        code = check_callback(
            callback, state=state, redirect_uri=redirect_uri, timeout_s=timeout_s, redactor=redactor
        )
        redactor.add("code", code)
        answer = exchange_code(
            session, settings, code=code, verifier=pkce.verifier, redirect_uri=redirect_uri
        )
    finally:
        session.close()
    if answer.problem is not None:
        raise LoginFailed(
            f"Could not reach the token endpoint {settings.token_url}: {answer.problem.sentence}",
            EXIT_UNREACHABLE,
        )
    grant = parse_token_answer(answer)
    if isinstance(grant, TokenError):
        raise token_failure(grant, settings, redactor)
    _save(grant, target, settings)


def _redactor(settings: Settings) -> Redactor:
    redactor = Redactor()
    if settings.client_secret is not None:
        redactor.add("client_secret", settings.client_secret)
        if settings.client_id:
            redactor.add_basic_credentials(settings.client_id, settings.client_secret)
    return redactor


def _send_user_to(
    url: str, *, no_browser: bool, opener: Callable[[str], bool], timeout_s: float
) -> None:
    if no_browser:
        print(
            f"Open this address in a browser on this machine to sign in with Sage ID:\n\n  {url}\n"
        )
    elif _open(opener, url):
        print(
            f"Opened the Sage ID sign-in page in your browser. If it did not appear, open:\n\n  {url}\n"
        )
    else:
        print(
            f"No browser could be opened here. Open this address in a browser on this machine:\n\n  {url}\n"
        )
    print(
        f"Waiting up to {timeout_s:g} s for the sign-in to finish (Ctrl+C to stop)...", flush=True
    )


def _open(opener: Callable[[str], bool], url: str) -> bool:
    try:
        return bool(opener(url))
    except (webbrowser.Error, OSError):
        return False


def _save(grant: TokenGrant, target: Path, settings: Settings) -> None:
    # Without a new refresh token the old one (from an earlier sign-in) is cleared, so the file
    # describes exactly this sign-in; the backup still holds it, and the user is told.
    updates = {
        "SAGE200_ACCESS_TOKEN": grant.access_token,
        "SAGE200_REFRESH_TOKEN": grant.refresh_token or "",
    }
    try:
        backup = update_env_file(target, updates)
    except (OSError, ValueError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise LoginFailed(
            f"Signed in, but the tokens could not be written to {target} ({reason}); the file"
            " was left as it was. Fix that and run login again."
        ) from None
    print("Signed in with Sage ID. Granted:")
    print("\n".join(describe_grant(grant, settings.scope)))
    kept = f" (the previous content is kept in {backup})" if backup else " (created, mode 0600)"
    print(f"Saved SAGE200_ACCESS_TOKEN and SAGE200_REFRESH_TOKEN in {target}{kept}.")
    if grant.refresh_token is None and settings.sources.get("SAGE200_REFRESH_TOKEN") == "file":
        print(
            f"The refresh token from an earlier sign-in was removed from {target}; {backup} has it."
        )
    for key in ("SAGE200_ACCESS_TOKEN", "SAGE200_REFRESH_TOKEN"):
        if settings.sources.get(key) == "environment":
            print(
                f"Note: {key} is also set in the environment, which wins over the file: unset it."
            )
    _warn_if_others_can_read(target)
    print(f"\nNext: sage200-doctor run --env {shlex.quote(str(target))}")


def _warn_if_others_can_read(target: Path) -> None:
    """A file created here is 0600; an existing one keeps its mode, which may be too open."""
    if os.name != "posix":
        return
    mode = stat.S_IMODE(target.stat().st_mode)
    if mode & 0o077:
        print(
            f"Note: {target} can be read by other users of this machine (mode {mode:04o}) and"
            f" now holds tokens: chmod 600 {shlex.quote(str(target))}"
        )
