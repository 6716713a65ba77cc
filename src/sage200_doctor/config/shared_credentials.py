"""A refresh token that several environments of one fleet share: refreshed once, never twice.

The environments of a fleet run side by side on threads of one process. When two of them are
configured with the same refresh token (one site, several companies), presenting it twice is
wrong once Sage ID rotates refresh tokens: the second presentation is refused (invalid_grant),
and with reuse detection (Auth0) it revokes the whole token family. So the first environment
to refresh a credential records the grant it got; another with the same credential and the same
client authentication takes that grant instead of refreshing, and one that cannot (another
client authentication to prove) presents the newest refresh token, never a spent one.

Credentials are keyed by a hash of the token URL, client id and configured refresh token; the
values themselves are never kept here.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Grant = TypeVar("Grant")


def credential_key(*parts: str) -> str:
    """A stable, one-way name for a credential (or a client authentication) made of `parts`."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8", "surrogatepass") + b"\0")
    return digest.hexdigest()


@dataclass
class _Spent(Generic[Grant]):
    newest: str | None = None
    """The newest refresh token this process obtained for the credential."""
    grants: dict[str, Grant] = field(default_factory=dict)
    """The grant obtained with each client authentication."""


class SharedCredentials(Generic[Grant]):
    """What one process learned about each credential it refreshed; safe across threads."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._spent: dict[str, _Spent[Grant]] = {}

    @contextmanager
    def exclusive(self, key: str) -> Iterator[None]:
        """One environment at a time uses the credential `key` (from lookup to record)."""
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            yield

    def grant_for(self, key: str, auth: str) -> Grant | None:
        """The grant already obtained for this credential with this client authentication."""
        with self._guard:
            spent = self._spent.get(key)
            return spent.grants.get(auth) if spent else None

    def newest_token(self, key: str) -> str | None:
        """The refresh token to present instead of the configured (spent) one, if any."""
        with self._guard:
            spent = self._spent.get(key)
            return spent.newest if spent else None

    def record(self, key: str, auth: str, grant: Grant, newest: str | None) -> None:
        with self._guard:
            spent = self._spent.setdefault(key, _Spent())
            spent.grants[auth] = grant
            if newest:
                spent.newest = newest
