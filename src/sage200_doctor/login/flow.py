"""`sage200-doctor login`, start to finish: check the settings, plan, send the user to Sage ID,
wait for the callback, exchange the code, save the tokens (atomic, 0600, backup)."""

from __future__ import annotations

import math
import os
import secrets
import shlex
import stat
import sys
import webbrowser
from collections.abc import Callable
from pathlib import Path
from typing import Final

from sage200_doctor.config.envfile import update_env_file
from sage200_doctor.config.settings import LoadedSettings, Settings, UsageError, load_settings
from sage200_doctor.errors import ExitCode
from sage200_doctor.http.oauth import (
    TokenError,
    TokenGrant,
    basic_credentials,
    parse_token_answer,
)
from sage200_doctor.http.session import Answer, Session, build_client
from sage200_doctor.login.callback import (
    check_callback,
    start_callback_server,
)
from sage200_doctor.login.messages import LoginFailed, describe_grant, preflight, token_failure
from sage200_doctor.login.plan import Pkce, authorization_url, plan_redirect
from sage200_doctor.redact import Redactor, quiet_http_loggers

DEFAULT_TIMEOUT_S: Final = 300.0


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
        raise LoginFailed("--timeout must be a positive number of seconds.", ExitCode.USAGE)
    if port is not None and not 0 <= port <= 65535:
        raise LoginFailed("--port must be between 1 and 65535 (0: any free port).", ExitCode.USAGE)
    target = env_file if env_file is not None else Path(".env")
    if target.is_dir():
        raise LoginFailed(f"the env file {target} is a directory, not a file.", ExitCode.USAGE)
    if not target.parent.is_dir():
        raise LoginFailed(
            f"the env file {target} cannot be created: {target.parent} is not a directory.",
            ExitCode.USAGE,
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
        raise LoginFailed(str(error), ExitCode.USAGE) from None
    settings = loaded.settings
    if not settings.client_id:
        raise LoginFailed(
            f"SAGE200_CLIENT_ID is not set, so there is no client to sign in with. Add"
            f" SAGE200_CLIENT_ID=<your client id> to {target} (from your Sage 200 API"
            " credentials) and run login again.",
            ExitCode.CONFIG,
        )
    errors = [p for p in loaded.problems if p.severity == "error" and p.key in _LOGIN_KEYS]
    if errors:
        told = " ".join(
            f"{p.message}." + (f" {p.suggestion}" if p.suggestion else "") for p in errors
        )
        raise LoginFailed(f"the configuration cannot be used to sign in: {told}", ExitCode.CONFIG)
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
            ExitCode.UNREACHABLE,
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
