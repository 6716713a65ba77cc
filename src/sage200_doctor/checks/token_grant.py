"""The refresh grant of token.refresh: sent once, its rotated refresh token saved first.

The grant needs only settings, so it leaves in the run's first wave, on a thread of its own, as
soon as the configuration checks have passed (`start_early`, token.refresh's `ahead`), next to
the reachability probes, rather than a round trip after them. Everything it does is what
token.refresh would do in its turn: the credential lock, the grant inside the run's critical
section, the write-back of a rotated token before anything else, the secrets learned. Its
exchange and facts are set aside and become token.refresh's when that check `take_early`s the
result; token.refresh still judges it, in order, and raises what the grant found.
"""

from __future__ import annotations

import dataclasses
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

from sage200_doctor.config.credential_lock import CredentialBusy
from sage200_doctor.config.rotation import (
    HeldCredential,
    RotationRecord,
    hold_refresh_token,
    keep_rotated_refresh_token,
)
from sage200_doctor.config.settings import Secret
from sage200_doctor.config.shared_credentials import SharedCredentials, credential_key
from sage200_doctor.engine.control import RunInterrupted
from sage200_doctor.engine.diagnosis import Diagnosis, TokenFacts
from sage200_doctor.engine.registry import fail
from sage200_doctor.engine.results import Exchange
from sage200_doctor.http import oauth
from sage200_doctor.http.lanes import Flight, start_alone
from sage200_doctor.http.session import Answer
from sage200_doctor.rules.authorization import bare_token

CHECK_ID = "token.refresh"
Granted = oauth.TokenGrant | oauth.TokenError


def client_auth(run: Diagnosis) -> str:
    return run.settings.client_auth.strip().lower()


@dataclass
class EarlyGrant:
    """The refresh grant started in the first wave, and what it left for token.refresh."""

    method: str
    flight: Flight[Granted]
    evidence: list[Exchange] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)


def start_early(run: Diagnosis) -> bool:
    """token.refresh's `ahead`: start the grant now (the configuration checks have passed).

    Once it is granted and its rotated token saved, the new access token is the run's token:
    the API requests sent ahead can be built from it while the first wave's answers are still
    being judged."""
    settings = run.settings
    if not settings.refresh_token and (settings.access_token or settings.authorization):
        # The configured token is known now: the API requests built from it may leave with the
        # first wave instead of waiting for token.claims' turn (GETs only; judged in order).
        # Not a token that is no JWT or has expired by this clock: token.claims judges it first.
        token = configured_token(run)
        if _usable_by_this_clock(token):
            run.token = token
        return True
    if not (settings.refresh_token and settings.client_id):
        return True  # nothing to start: token.refresh skips (or config.complete failed)
    early = EarlyGrant(client_auth(run), Flight(lambda: _grant_early(run, early)))
    run.prepared[CHECK_ID] = early
    start_alone(early.flight, name="sage200-refresh")
    return True


def _grant_early(run: Diagnosis, early: EarlyGrant) -> Granted:
    try:
        with run.session.recording(early.evidence):
            result = refresh(run, early.method, early.facts)
        if isinstance(result, oauth.TokenGrant) and not (run.rotation and run.rotation.lost):
            adopt(run, result)
        return result
    finally:
        run.session.wake()  # the requests built from the token may leave now


def take_early(run: Diagnosis, method: str) -> Granted | None:
    """The early grant's result (waited for), its exchange and facts now this check's; None
    when none was started for this client authentication."""
    early = run.prepared.pop(CHECK_ID, None)
    if not isinstance(early, EarlyGrant) or early.method != method:
        return None
    try:
        return run.session.wait_for(early.flight.future)
    finally:
        run.session.adopt(early.evidence)
        run.facts.update(early.facts)


def adopt(run: Diagnosis, grant: oauth.TokenGrant) -> None:
    run.token = TokenFacts(
        access_token=Secret(grant.access_token),
        source="refresh",
        granted_scope=grant.scope,
        refresh_token_issued=grant.refresh_token is not None or bool(run.settings.refresh_token),
    )


def configured_token(run: Diagnosis) -> TokenFacts:
    settings = run.settings
    if settings.access_token:
        return TokenFacts(
            access_token=Secret(settings.access_token.reveal().strip()), source="access_token"
        )
    assert settings.authorization is not None
    return TokenFacts(
        access_token=Secret(bare_token(settings.authorization.reveal())), source="authorization"
    )


def _usable_by_this_clock(token: TokenFacts) -> bool:
    try:
        claims = oauth.peek_claims(token.access_token.reveal())
    except oauth.NotAJwt:
        return False
    left = oauth.seconds_left(claims)
    return left is None or left > 0


def refresh(run: Diagnosis, method: str, facts: dict[str, Any]) -> Granted:
    """One refresh grant with `method` client authentication; `facts` gets what is worth
    reporting about the refresh token presented."""
    settings = run.settings

    def give_up_if_stopped() -> None:
        if run.control.stopped:
            raise RunInterrupted

    try:
        # Critical from the moment the credential is held: from then on the grant is sent and
        # its answer, which may hold the only working refresh token (rotation), is saved even
        # if the run is stopped meanwhile. Only waiting for another run's lock gives way.
        with (
            run.control.critical(),
            hold_refresh_token(
                settings, wait_s=_lock_wait_s(run), on_wait=give_up_if_stopped
            ) as held,
        ):
            answer, result = _grant_once(run, method, held, facts)
    except CredentialBusy as busy:
        fail(
            f"Another process has held the lock on {busy.path} for {busy.waited_s:.0f} s, so "
            "the refresh token was not used.",
            detail="Runs that share an env file take turns with its refresh token: presenting "
            "it while another run does could get it revoked when Sage ID rotates refresh tokens. "
            "Wait for the other run (or stop it if it hangs); the lock goes when it ends.",
            guidance=("guide.config",),
        )
    if answer is not None and answer.problem is not None:
        fail(
            f"The token endpoint could not be reached: {answer.problem.sentence}",
            guidance=("guide.network",),
        )
    return result


def _lock_wait_s(run: Diagnosis) -> float:
    """Long enough for another run's whole refresh grant and write-back."""
    return max(60.0, 3 * run.settings.timeout_s + 10)


def _grant_once(
    run: Diagnosis, method: str, held: HeldCredential, facts: dict[str, Any]
) -> tuple[Answer | None, Granted]:
    """The refresh grant, or the grant another environment of a fleet got for the same
    credential; a rotated refresh token is saved before anything else happens."""
    settings = run.settings
    assert settings.client_id is not None
    secret = settings.client_secret.reveal().strip() if settings.client_secret else None
    shared = run.shared_credentials
    key = credential_key(settings.token_url.strip(), settings.client_id.strip(), held.configured)
    auth = credential_key(method, secret or "")
    with shared.exclusive(key) if shared is not None else nullcontext():
        reused = shared.grant_for(key, auth) if shared is not None else None
        if reused is not None:
            run.learn_secret("access_token", reused.access_token)
            run.learn_secret("refresh_token", reused.refresh_token)
            run.rotation = _shared_rotation(run, reused, held)
            return None, reused
        presented = _presentable(run, held, shared, key, facts)
        answer = oauth.refresh(
            run.session,
            token_url=settings.token_url.strip(),
            refresh_token=presented,
            client_id=settings.client_id.strip(),
            client_secret=secret,
            method=method,
        )
        result = oauth.parse_token_answer(answer)
        if isinstance(result, oauth.TokenGrant):
            # Persist first: until it is written, the rotated token exists in this process only.
            run.rotation = keep_rotated_refresh_token(
                settings,
                result.refresh_token,
                held=held.presenting(presented),
                save_rotated=run.save_rotated,
            )
            if run.rotation is not None:  # said even if the run is stopped before the result
                run.said_if_stopped[CHECK_ID] = run.rotation.note
            run.learn_secret("access_token", result.access_token)
            run.learn_secret("refresh_token", result.refresh_token)
            if shared is not None:
                shared.record(key, auth, result, result.refresh_token)
    return answer, result


def _presentable(
    run: Diagnosis,
    held: HeldCredential,
    shared: SharedCredentials[oauth.TokenGrant] | None,
    key: str,
    facts: dict[str, Any],
) -> str:
    """The refresh token to present: never one already rotated away by this process or, as
    far as the env file shows, by another run."""
    token = held.token
    if held.changed_meanwhile:
        facts["refresh token"] = (
            f"read again from {run.settings.env_file}: another run rotated it after this run "
            "started, so the newer one was used"
        )
    elif shared is not None:
        token = shared.newest_token(key) or token
    if token != held.configured:
        run.redactor.add("refresh_token", Secret(token))
    return token


def _shared_rotation(
    run: Diagnosis, grant: oauth.TokenGrant, held: HeldCredential
) -> RotationRecord:
    """The record of an environment that took the grant another one got: its own env file
    still gets the rotated token, if it holds an older one."""
    note = (
        "Another environment of this run shares this refresh token and refreshed it moments "
        "ago; its grant was used here, so the refresh token was presented once."
    )
    record = None
    if held.locked is not None:
        record = keep_rotated_refresh_token(
            run.settings, grant.refresh_token, held=held, save_rotated=run.save_rotated
        )
    if record is None:
        return RotationRecord(None, None, note)
    return dataclasses.replace(record, note=f"{note} {record.note}")
