"""The one-shot loopback server Sage ID redirects the browser to (RFC 8252), and what it got."""

from __future__ import annotations

import errno
import hmac
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from sage200_doctor.login.messages import LoginFailed, callback_error, first_values, shorten
from sage200_doctor.login.plan import RedirectPlan
from sage200_doctor.redact import Redactor


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
        self._received = Callback(first_values(query))
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
        description = shorten(redactor.safe_text(description) if redactor else description)
        raise LoginFailed(callback_error(callback.error, description))
    if callback.code is None:
        raise LoginFailed("Sage ID called back without an authorization code; run login again.")
    return callback.code
