"""What the sign-in says when it cannot go on: the pre-flight of the authorize URL, token
endpoint refusals, and a summary of what was granted. Server text passes the redactor first."""

from __future__ import annotations

import time
from html.parser import HTMLParser
from typing import Final
from urllib.parse import parse_qs, urlsplit

from sage200_doctor.config.settings import Settings
from sage200_doctor.errors import ExitCode
from sage200_doctor.http.oauth import (
    TokenError,
    TokenGrant,
    describe_duration,
)
from sage200_doctor.http.session import Answer, Session
from sage200_doctor.redact import Redactor

_EXCERPT_CHARS: Final = 240


class LoginFailed(Exception):
    """A finding that ends the login: one or two sentences for the user, and the exit code."""

    def __init__(self, message: str, exit_code: int = ExitCode.FINDING) -> None:
        super().__init__(message)
        self.exit_code = exit_code


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
            ExitCode.UNREACHABLE,
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
        said = shorten(redactor.safe_text(_page_text(answer.text)))
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
    query = first_values(urlsplit(location).query)
    error = query.get("error")
    if error is None:
        return
    description = shorten(redactor.safe_text(query.get("error_description", "")))
    if location.split("?", 1)[0] == redirect_uri.split("?", 1)[0]:
        raise LoginFailed(callback_error(error, description))
    raise LoginFailed(
        f"Sage ID sent the sign-in request to an error page ({error}: {description}). The usual"
        " cause is a redirect URI that is not registered for the client: register exactly"
        f" {redirect_uri}, or set SAGE200_REDIRECT_URI to a loopback URI that is registered."
    )


def first_values(query: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(query, keep_blank_values=True).items()}


def shorten(text: str) -> str:
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


def token_failure(failure: TokenError, settings: Settings, redactor: Redactor) -> LoginFailed:
    said = shorten(redactor.safe_text(failure.description))
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


def callback_error(error: str, description: str) -> str:
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
