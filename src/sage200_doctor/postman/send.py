"""`sage200-doctor postman --run`: the collection's own GET requests, sent and diagnosed.

Read-only, as every run: only GET requests to the Sage 200 API are sent, and at most one POST,
the refresh grant, to Sage ID (a rotated refresh token is written back as a live run writes it).
Every request goes through the doctor's own `Session` (redaction, evidence, 429 handling, TLS
rules, deadlines). Requests that write are listed, never sent; so are requests to other hosts,
which would otherwise receive the token.

Like the engine, the requests go out on a thread of their own, so the main thread stays free to
notice Ctrl-C or SIGTERM (`commands.run.wait_for`); a refresh grant on its way is still saved.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Sequence
from typing import Any, Final

import httpx

from sage200_doctor.config.credential_lock import CredentialBusy
from sage200_doctor.config.rotation import (
    HeldCredential,
    RotationRecord,
    hold_refresh_token,
    keep_rotated_refresh_token,
)
from sage200_doctor.config.settings import Settings
from sage200_doctor.engine.control import RunControl, RunInterrupted
from sage200_doctor.engine.results import Exchange, Interruption, Outcome
from sage200_doctor.http import oauth
from sage200_doctor.http.answer import Answer
from sage200_doctor.http.sage import denial
from sage200_doctor.http.session import Session, build_client
from sage200_doctor.redact import Redactor
from sage200_doctor.rules import Judgement
from sage200_doctor.rules.token import judge_token_error

from .judge import check_of, header_value, judge_answer, judge_sites_selection
from .model import ResolvedRequest
from .outgoing import headers_for, why_not_sent
from .placed import STOPPED, Placed, Row, Sent
from .sage import company_scoped

__all__ = ["CollectionRun", "Row", "Sent"]

CRITICAL_GRACE_S: Final = 5.0
TOKEN_CHECK: Final = "token.refresh"  # noqa: S105 - a check id, not a password


class CollectionRun:
    """Sends the collection's GETs on a thread; `commands.run.wait_for` starts, waits, stops."""

    def __init__(
        self,
        requests: Sequence[ResolvedRequest],
        settings: Settings,
        redactor: Redactor,
        *,
        api_base_url: str | None,
        credentials: str = "the Postman export",
        from_export: bool = True,
        on_row: Callable[[Row], None] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """`credentials` names where the settings came from, for findings; `from_export`: they
        are the export's own (so a rotated refresh token leaves the export's one stale).
        `on_row` is told each request's outcome as soon as it is known (on the run's thread)."""
        from sage200_doctor.engine.run import request_deadline

        self.settings = settings
        self.redactor = redactor
        self.api_base_url = api_base_url
        self.credentials = credentials
        self.from_export = from_export
        self.on_row = on_row
        self.control = RunControl()
        self._deadline_s = request_deadline(settings.timeout_s)

        def client() -> httpx.Client:
            return build_client(
                timeout_s=settings.timeout_s,
                ca_bundle=settings.usable_ca_bundle,
                transport=transport,
            )

        self.session = Session(client, redactor, deadline_s=self._deadline_s, control=self.control)
        self.result = Sent([Row(request) for request in requests])
        self._thread: threading.Thread | None = None
        self._sites: list[Any] = []

    # --- Startable (commands.run.wait_for) ---------------------------------------------------

    @property
    def stopped(self) -> bool:
        return self.control.stopped

    def start(self) -> None:
        self._thread = threading.Thread(target=self._execute, name="sage200-postman", daemon=True)
        self._thread.start()

    def wait(self) -> None:
        while self._thread is not None and self._thread.is_alive() and not self.stopped:
            self._thread.join(0.05)

    def interrupt(self, interruption: Interruption) -> None:
        self.control.interrupt(interruption)

    def finish(self) -> Sent:
        """The result, once the thread has ended (a stopped run first lets a refresh grant on
        its way, and the saving of a rotated token, finish)."""
        if self.stopped:
            self.control.wait_for_critical(self._deadline_s + CRITICAL_GRACE_S)
        if self._thread is not None:
            self._thread.join(self._deadline_s + CRITICAL_GRACE_S if self.stopped else None)
        self.session.close()
        unfinished = any(row.verdict == STOPPED for row in self.result.rows)
        self.result.interruption = self.control.interruption if unfinished else None
        self.result.sent = self.session.request_count
        return self.result

    # --- the run -----------------------------------------------------------------------------

    def _execute(self) -> None:
        stage = TOKEN_CHECK
        try:
            token = self._token()
            stage = "postman.writes"
            for row in self.result.rows:
                self._send(row, token)
                if self.on_row is not None:
                    self.on_row(row)
            self._judge_selection()
        except RunInterrupted:
            pass
        except Exception as error:  # a bug of ours: reported as an internal error, not a crash
            self.result.failure = (stage, error)

    def _send(self, row: Row, token: str | None) -> None:
        request = row.request
        reason = why_not_sent(request, api_base_url=self.api_base_url, have_token=bool(token))
        if reason is not None:
            row.verdict = f"not sent: {reason}"
            return
        assert token is not None
        row.sent_headers = headers_for(request, token)
        answer = self.session.request("GET", request.url.split("#")[0], headers=row.sent_headers)
        row.exchange = self.session.take_exchanges()[-1]  # the last try, after any 429s
        row.status = answer.status
        judgements = judge_answer(request, answer, row.sent_headers)
        if not judgements and check_of(request) == "sites.list" and isinstance(answer.json, list):
            self._sites.append(answer.json)
        for judgement in judgements:
            self._found(judgement, request, (row.exchange,))
        if not judgements:
            self._passed(check_of(request), row.exchange)
        selection = self._selection(row)
        row.verdict = _verdict([*judgements, *([selection] if selection else [])])
        self._answered(row, answer, {judgement.check for judgement in judgements})

    def _answered(self, row: Row, answer: Answer, found: set[str]) -> None:
        """What an answer proves besides its own data: the gateway let the request through
        (it answered, or the API behind it did), and a 2xx accepted its Authorization header."""
        assert row.exchange is not None
        through = answer.ok or (answer.status is not None and denial(answer).layer == "api")
        if through and "gateway.subscription_key" not in found:
            self._passed("gateway.subscription_key", row.exchange)
        if answer.ok and _authorized(row) and "header.authorization" not in found:
            self._passed("header.authorization", row.exchange)

    def _selection(self, row: Row) -> Judgement | None:
        """The X-Site / X-Company pair the row sent, looked up in the sites GET sites listed
        (once some GET sites has answered; rows sent before that are judged at the end)."""
        site = header_value(row.sent_headers, "X-Site")
        company = header_value(row.sent_headers, "X-Company")
        if not self._sites or row.selection_judged or not company_scoped(row.request.url):
            return None
        if row.exchange is None or site is None or company is None:
            return None
        row.selection_judged = True
        judgement = judge_sites_selection(self._sites, site, company)
        if judgement is None:
            self._passed("sites.selection", row.exchange)
            return None
        self._found(judgement, row.request, (row.exchange,))
        return judgement

    def _judge_selection(self) -> None:
        """Rows sent before any GET sites answered (their printed line keeps its verdict; the
        report's row and the finding say what the list showed)."""
        for row in self.result.rows:
            judgement = self._selection(row)
            if judgement is not None and row.verdict == "passed":
                row.verdict = _verdict([judgement])

    # --- the token ---------------------------------------------------------------------------

    def _token(self) -> str | None:
        settings = self.settings
        if settings.refresh_token and settings.client_id:
            return self._refresh()
        self.result.fine[TOKEN_CHECK] = (
            Outcome.SKIPPED,
            "No refresh token (with a client id) is configured; the configured access token "
            "was sent as it is.",
        )
        configured = settings.access_token or settings.authorization
        if configured is not None:
            return _bare(configured.reveal())
        self.result.placed.append(
            Placed(
                Judgement(
                    "config.complete",
                    "failed",
                    "There is no token to send the collection's requests with.",
                    "--run needs a refresh token and client id, an access token or an "
                    "Authorization value: in the Postman environment (refreshToken, "
                    "accessToken) or in the file given with --env.",
                    ("guide.config",),
                ),
                self.credentials,
            )
        )
        return None

    def _refresh(self) -> str | None:
        settings = self.settings
        assert settings.refresh_token is not None
        assert settings.client_id is not None
        try:
            # Critical once the credential is held (the lock shared with `run`): the answer may
            # hold the only working refresh token (rotation), which is saved before anything else.
            with (
                self.control.critical(),
                hold_refresh_token(settings, wait_s=max(60.0, 3 * settings.timeout_s + 10)) as held,
            ):
                answer = oauth.refresh(
                    self.session,
                    token_url=settings.token_url.strip(),
                    refresh_token=held.token,
                    client_id=settings.client_id.strip(),
                    client_secret=(
                        settings.client_secret.reveal().strip() if settings.client_secret else None
                    ),
                    method=settings.client_auth.strip().lower(),
                )
                grant = oauth.parse_token_answer(answer)
                if isinstance(grant, oauth.TokenGrant):
                    self.result.rotation = self._keep_rotated(grant.refresh_token, held)
                    self.redactor.learn("access_token", grant.access_token)
                    if grant.refresh_token is not None:
                        self.redactor.learn("refresh_token", grant.refresh_token)
        except CredentialBusy as busy:
            busy_judgement = Judgement(
                TOKEN_CHECK,
                "failed",
                f"Another process has held the lock on {busy.path} for {busy.waited_s:.0f} s, "
                "so the refresh token was not used.",
                "Runs that share an env file take turns with its refresh token. Wait for the "
                "other run (or stop it if it hangs); the lock goes when it ends.",
                ("guide.config",),
            )
            self.result.placed.append(Placed(busy_judgement, self.credentials, ()))
            return None
        exchanges = tuple(self.session.take_exchanges())
        if answer.problem is not None:
            failed = Judgement(
                TOKEN_CHECK,
                "failed",
                f"The token endpoint could not be reached: {answer.problem.sentence}",
                "",
                ("guide.network",),
            )
            self.result.placed.append(Placed(failed, self.credentials, exchanges))
            return None
        if isinstance(grant, oauth.TokenError):
            self.result.placed.append(Placed(judge_token_error(grant), self.credentials, exchanges))
            return None
        note = f" {self.result.rotation.note}" if self.result.rotation else ""
        self.result.fine[TOKEN_CHECK] = (
            Outcome.PASSED,
            f"Sage ID issued an access token for the collection's requests.{note}",
        )
        self.result.evidence.setdefault(TOKEN_CHECK, []).extend(exchanges)
        return grant.access_token

    def _keep_rotated(self, new_token: str | None, held: HeldCredential) -> RotationRecord | None:
        record = keep_rotated_refresh_token(self.settings, new_token, held=held, save_rotated=None)
        if record is None or not self.from_export:
            return record
        # The export's refresh token is the one just replaced: say where the new one is.
        backup = f" (previous file kept as {record.backup})" if record.backup else ""
        note = (
            "Sage ID rotated the refresh token: the one in the Postman environment no longer "
            f"works. The new one was saved to {record.saved_to}{backup}; paste it into the "
            "environment's refresh token variable."
        )
        return dataclasses.replace(record, note=note)

    # --- bookkeeping -------------------------------------------------------------------------

    def _found(
        self, judgement: Judgement, request: ResolvedRequest, evidence: tuple[Exchange, ...]
    ) -> None:
        self.result.placed.append(Placed(judgement, f"request '{request.name}'", evidence))

    def _passed(self, check: str, exchange: Exchange) -> None:
        self.result.fine.setdefault(check, (Outcome.PASSED, _PASSED[check]))
        self.result.evidence.setdefault(check, []).append(exchange)


_PASSED: Final = {
    "sites.list": "GET sites answered with the user's sites.",
    "customers.list": "The collection's customers requests answered.",
    "api.resources": "The collection's requests to other resources answered.",
    "gateway.subscription_key": "The gateway let the collection's requests through.",
    "header.authorization": "The requests' Authorization header ('Bearer' + one space + the "
    "token) was accepted.",
    "sites.selection": "The X-Site / X-Company the requests send are in the sites list.",
}


def _authorized(row: Row) -> bool:
    return any(key.lower() == "authorization" for key in row.sent_headers)


def _verdict(judgements: list[Judgement]) -> str:
    if not judgements:
        return "passed"
    worst = min(judgements, key=lambda judgement: judgement.outcome != "failed")
    return f"{worst.outcome} ({worst.check})"


def _bare(value: str) -> str:
    """A configured token or Authorization value without its scheme."""
    text = value.strip()
    return text[6:].strip() if text[:6].lower() == "bearer" else text
