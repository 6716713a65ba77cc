"""The state one diagnostic run shares between its checks: settings in, facts learned on the way.

Checks read earlier checks' facts from here (the token, the sites list, the chosen site and
company, a sample of customers) and ask it to make requests with the right headers. It builds no
finding itself: that is the checks' job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sage200_doctor.config.rotation import RotationRecord
from sage200_doctor.config.settings import ConfigProblem, LoadedSettings, Secret, Settings
from sage200_doctor.engine.control import RunControl
from sage200_doctor.engine.results import Substitute
from sage200_doctor.http.sage import endpoint
from sage200_doctor.http.session import Answer, Session
from sage200_doctor.redact import Redactor

if TYPE_CHECKING:
    from sage200_doctor.config.shared_credentials import SharedCredentials
    from sage200_doctor.http.oauth import TokenGrant


@dataclass
class TokenFacts:
    """The access token the run uses, and what is known about how it was obtained."""

    access_token: Secret
    source: str  # "refresh" | "access_token" | "authorization"
    granted_scope: str | None = None
    refresh_token_issued: bool | None = None
    claims: dict[str, Any] = field(default_factory=dict)


class Diagnosis:
    """One run's shared state. Created once per run by the plugin."""

    def __init__(
        self,
        loaded: LoadedSettings,
        session: Session,
        redactor: Redactor,
        *,
        save_rotated: Path | None = None,
        control: RunControl | None = None,
    ) -> None:
        self.settings: Settings = loaded.settings
        self.problems: tuple[ConfigProblem, ...] = loaded.problems
        self.session = session
        self.redactor = redactor
        self.save_rotated = save_rotated
        self.control = control or RunControl()
        """The run's stop switch: the refresh grant runs in its critical section."""
        self.token: TokenFacts | None = None
        self.discovery: dict[str, Any] | None = None
        self.jwks: dict[str, Any] | None = None
        self.sites: list[dict[str, Any]] | None = None
        self.site_id: str | None = None
        self.company_id: str | None = None
        self.customers: list[dict[str, Any]] | None = None
        self.rotation: RotationRecord | None = None
        self.shared_credentials: SharedCredentials[TokenGrant] | None = None
        self.said_if_stopped: dict[str, str] = {}
        """What a check must still say when the run is stopped before its result (where a
        rotated refresh token went): shown on its `interrupted` result."""
        """Set by a fleet: refresh grants its environments share (one refresh per credential)."""
        self.seen_bodies: list[tuple[str, str, Any]] = []
        """(shape name, url, parsed body) of answers api.schema validates."""
        self.facts: dict[str, Any] = {}
        """Capability facts of the check now running; the runner moves them to its result."""
        self.prepared: dict[str, Any] = {}
        """What a check's `ahead` function prepared for the check itself, by check id."""
        self.api_base_override: str | None = None
        """The edition path a substitute proved to answer (see `substitute`)."""
        self.send_key = True
        """False once a substitute proved the gateway accepts requests without the key."""
        self._proven: dict[str, list[Substitute]] = {}
        self.in_force: list[Substitute] = []
        """Substitutes the run carries on with, in the order they were proved."""

    def learn_secret(self, label: str, value: str | Secret | None) -> None:
        """A secret learned during the run (a minted token) is masked from then on, if it could
        be a credential at all (`Redactor.learn`: the server chose it)."""
        if value is not None:
            self.redactor.learn(label, value)

    def substitute(self, substitute: Substitute) -> None:
        """Record a working alternative a request has just proved (the caller has already
        switched the run to it). It counts only if the check then fails: the check becomes the
        root cause or a fault found, and the checks after it run on the substitute."""
        self._proven.setdefault(substitute.set_by, []).append(substitute)

    def take_proven(self, check_id: str) -> tuple[Substitute, ...]:
        proven = tuple(self._proven.pop(check_id, ()))
        self.in_force.extend(proven)
        return proven

    def drop_proven(self, check_id: str) -> None:
        self._proven.pop(check_id, None)

    def substitutes_for(self, needs: set[str]) -> tuple[Substitute, ...]:
        """The substitutes in force that a check needing `needs` (its prerequisites, direct or
        not) runs on: those its prerequisites proved."""
        return tuple(s for s in self.in_force if s.set_by in needs)

    @property
    def api_base_url(self) -> str:
        return self.api_base_override or self.settings.api_base_url

    def api_url(self, path: str) -> str:
        return endpoint(self.api_base_url, path)

    def api_headers(
        self,
        *,
        authorization: str | None = None,
        with_key: bool = True,
        with_company: bool = True,
    ) -> dict[str, str]:
        """Headers for a Sage 200 API request: Authorization, the key, X-Site and X-Company."""
        headers: dict[str, str] = {}
        if authorization is not None:
            if authorization:  # "" means: send no Authorization header at all
                headers["Authorization"] = authorization
        elif self.token is not None:
            headers["Authorization"] = "Bearer " + self.token.access_token.reveal()
        key = self.settings.subscription_key
        if with_key and key and self.send_key:
            headers["ocp-apim-subscription-key"] = key.reveal().strip()
        if with_company and self.site_id and self.company_id:
            headers["X-Site"] = self.site_id
            headers["X-Company"] = self.company_id
        return headers

    def get(
        self,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        authorization: str | None = None,
        with_key: bool = True,
        with_company: bool = True,
    ) -> Answer:
        """A GET against the Sage 200 API (the only verb a run sends there)."""
        headers = self.api_headers(
            authorization=authorization, with_key=with_key, with_company=with_company
        )
        return self.session.request("GET", self.api_url(path), params=params, headers=headers)

    def get_ahead(
        self,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        authorization: str | None = None,
        with_key: bool = True,
        with_company: bool = True,
    ) -> bool:
        """Start now the GET that `get` with the same arguments will send later.

        False when it cannot be built yet: no token, or no X-Site/X-Company to send."""
        headers = self._ahead_headers(
            authorization=authorization, with_key=with_key, with_company=with_company
        )
        return headers is not None and self.session.send_ahead(
            self.api_url(path), params=params, headers=headers
        )

    def peek(self, path: str, *, params: Mapping[str, str] | None = None) -> Answer | None:
        """The answer to `get_ahead(path, params=params)` if it is in, without taking it."""
        headers = self._ahead_headers()
        if headers is None:
            return None
        return self.session.peek(self.api_url(path), params=params, headers=headers)

    def was_sent_ahead(self, path: str, *, params: Mapping[str, str] | None = None) -> bool:
        headers = self._ahead_headers()
        return headers is not None and self.session.was_sent_ahead(
            self.api_url(path), params=params, headers=headers
        )

    def _ahead_headers(
        self, *, authorization: str | None = None, with_key: bool = True, with_company: bool = True
    ) -> dict[str, str] | None:
        """The headers `get` will send, or None when they cannot be known yet. Until
        sites.selection confirms a pair, the configured X-Site/X-Company are assumed."""
        if authorization is None and self.token is None:
            return None
        headers = self.api_headers(
            authorization=authorization, with_key=with_key, with_company=with_company
        )
        if with_company and "X-Site" not in headers:
            site, company = self.settings.site_id, self.settings.company_id
            if not (site and company):
                return None
            headers["X-Site"], headers["X-Company"] = site.strip(), company.strip()
        return headers
