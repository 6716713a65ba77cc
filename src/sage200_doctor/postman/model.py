"""What a Postman export holds once read, and what one request looks like once resolved.

Everything here is plain, frozen data. The original JSON of a collection is kept (read-only) so
that resolving can walk it the way Postman does; nothing else in the package mutates it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from sage200_doctor.errors import UsageError

ScopeKind = Literal["environment", "globals", "collection"]


class PostmanError(UsageError):
    """A file that cannot be read as the Postman export it was given as (or, for `--write-env`,
    a file that cannot be written). A usage error: the command prints it and exits 4.

    The message says what the file looks like instead and what to do; it never contains a value
    from the file (only key names), so it is safe to print as it is.
    """


@dataclass(frozen=True)
class Variable:
    """One variable of an environment, globals or collection. `secret` marks `type: "secret"`."""

    key: str
    value: str
    enabled: bool = True
    secret: bool = False


@dataclass(frozen=True)
class VariableScope:
    """One layer of variables (Postman calls these scopes)."""

    kind: ScopeKind
    name: str
    variables: tuple[Variable, ...] = ()
    source: Path | None = None

    def lookup(self, key: str) -> Variable | None:
        """The variable Postman would use for `key`: the last enabled one of that name."""
        for variable in reversed(self.variables):
            if variable.key == key and variable.enabled:
                return variable
        return None


@dataclass(frozen=True)
class Collection:
    """A validated Postman collection (format v2.0.0 or v2.1.0)."""

    name: str
    version: Literal["2.0.0", "2.1.0"]
    document: Mapping[str, object] = field(repr=False, hash=False, compare=False)
    variables: VariableScope = field(default_factory=lambda: VariableScope("collection", ""))
    source: Path | None = None


@dataclass(frozen=True)
class Pair:
    """A header or query parameter as it would be sent (variables resolved)."""

    key: str
    value: str


@dataclass(frozen=True)
class Unresolved:
    """A `{{name}}` no scope defines, and where it appears (e.g. `url`, `header X-Site`)."""

    name: str
    where: str


@dataclass(frozen=True)
class AuthParam:
    """An extra OAuth 2.0 request parameter (Postman's "Advanced" options).

    `stage` is the request it goes with: `auth` (the authorize request, `authRequestParams`),
    `token` (`tokenRequestParams`) or `refresh` (`refreshRequestParams`). `send_as` is Postman's
    `request_url`, `request_body` or `request_header`.
    """

    stage: Literal["auth", "token", "refresh"]
    key: str
    value: str
    enabled: bool = True
    send_as: str = ""


@dataclass(frozen=True)
class Auth:
    """The auth a request uses once inheritance is applied.

    `type` is Postman's auth type (`oauth2`, `bearer`, `noauth`, ...). `fields` holds its
    settings with variables resolved, under Postman's own key names (for `oauth2`: `authUrl`,
    `accessTokenUrl`, `scope`, `headerPrefix`, `client_authentication`, ...), whichever of the
    v2.0 (object) or v2.1 (list of key/value) forms the file used. `defined_at` is the item path
    where it was set: `()` for the collection, a folder's path, or the request's own path.
    """

    type: str
    fields: tuple[tuple[str, str], ...] = ()
    params: tuple[AuthParam, ...] = ()
    defined_at: tuple[str, ...] = ()

    def get(self, key: str) -> str | None:
        for name, value in self.fields:
            if name == key:
                return value
        return None


@dataclass(frozen=True)
class Example:
    """A saved example response (the item's `response` array)."""

    name: str
    status: int | None
    headers: tuple[Pair, ...] = ()
    body: str = ""


@dataclass(frozen=True)
class ResolvedRequest:
    """One request as Postman would send it, plus what could not be resolved."""

    path: tuple[str, ...]
    method: str
    url: str
    headers: tuple[Pair, ...] = ()
    query: tuple[Pair, ...] = ()
    auth: Auth | None = None
    body_mode: str | None = None
    unresolved: tuple[Unresolved, ...] = ()
    examples: tuple[Example, ...] = ()

    @property
    def name(self) -> str:
        """The item path as Postman shows it: `folder/…/request`."""
        return "/".join(self.path)

    def header(self, key: str) -> str | None:
        """The last enabled header of that name (case-insensitive), or None."""
        wanted = key.lower()
        found = [pair.value for pair in self.headers if pair.key.strip().lower() == wanted]
        return found[-1] if found else None
