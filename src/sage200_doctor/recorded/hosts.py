"""Which recorded requests are Sage traffic: the identity service, the API, or neither.

Captures hold everything the browser or proxy saw (fonts, analytics, other APIs); triage judges
only the Sage ID and Sage 200 API exchanges. The defaults know Sage's public hosts; a
`SageHosts` extended with configured hosts recognises a private gateway, a test tenant or the
emulator on 127.0.0.1. The longest matching path prefix wins, so one host can serve both faces
(the emulator serves `/uk/...` as the API and everything else as identity).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

Face = Literal["identity", "api"]
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class HostRule:
    """Requests to `host` (`*.example.com` for any subdomain), on `port` (None: any), whose
    path starts with `path_prefix` (case-insensitive) belong to `face`."""

    face: Face
    host: str
    path_prefix: str = "/"
    port: int | None = None

    @classmethod
    def parse(cls, face: Face, spec: str) -> HostRule:
        """From a base URL or `host[:port][/path]`, e.g. `http://127.0.0.1:8123/uk/`."""
        text = spec.strip()
        if not text:
            raise ValueError(f"empty {face} host")
        parts = urlsplit(text if "://" in text else f"//{text}")
        if not parts.hostname:
            raise ValueError(f"{spec!r} names no host")
        try:
            port = parts.port
        except ValueError:
            raise ValueError(f"{spec!r} has an invalid port") from None
        return cls(face, parts.hostname.lower(), _prefix(parts.path), port)

    def matches(self, host: str, port: int | None, path: str) -> bool:
        if self.port is not None and port != self.port:
            return False
        if self.host.startswith("*."):
            suffix = self.host[1:]
            host_ok = host.endswith(suffix) and len(host) > len(suffix)
        else:
            host_ok = host == self.host
        return host_ok and path.lower().startswith(self.path_prefix.lower())

    @property
    def specificity(self) -> tuple[int, int, int]:
        """Longer prefixes, then exact hosts, then fixed ports win."""
        return (len(self.path_prefix), not self.host.startswith("*."), self.port is not None)


def _prefix(path: str) -> str:
    if not path or path == "/":
        return "/"
    return path if path.startswith("/") else f"/{path}"


DEFAULT_RULES: tuple[HostRule, ...] = (
    HostRule("identity", "id.sage.com"),
    HostRule("identity", "*.sage.com", "/oauth/token"),
    HostRule("identity", "*.sage.com", "/authorize"),
    HostRule("api", "api.columbus.sage.com", "/uk/sage200/"),
    HostRule("api", "api.columbus.sage.com", "/uk/sage200extra/"),
)


@dataclass(frozen=True)
class SageHosts:
    """A set of host rules; `classify(url)` names the face a URL belongs to."""

    rules: tuple[HostRule, ...] = DEFAULT_RULES

    def extended(self, *, identity: Iterable[str] = (), api: Iterable[str] = ()) -> SageHosts:
        """These rules plus configured hosts (`--identity-host`, `--api-host` values)."""
        added = [HostRule.parse("identity", spec) for spec in identity]
        added += [HostRule.parse("api", spec) for spec in api]
        return SageHosts((*self.rules, *added))

    def with_emulator(self, base_url: str) -> SageHosts:
        """These rules plus an emulator at `base_url`: `/uk/...` is the API, the rest identity."""
        base = base_url.rstrip("/")
        return self.extended(identity=[f"{base}/"], api=[f"{base}/uk/"])

    def with_api_base(self, api_base_url: str) -> SageHosts:
        """These rules plus an API served at `api_base_url` (`SAGE200_API_BASE_URL`, e.g. the
        emulator's `http://127.0.0.1:8123/uk/sage200extra/accounts/v1/`): both editions' paths
        under the same root are the API, and the rest of that origin is Sage ID (the emulator
        serves both; a separate identity host is added with `extended(identity=...)`)."""
        rule = HostRule.parse("api", api_base_url)
        path = rule.path_prefix
        cut = path.lower().find("/uk/")
        root = path[: cut + len("/uk/")] if cut >= 0 else path
        if root == "/":
            root = "/uk/"  # an origin alone: Sage's (and the emulator's) API paths
        scheme = urlsplit(api_base_url.strip()).scheme or "https"
        port = f":{rule.port}" if rule.port is not None else ""
        host = f"[{rule.host}]" if ":" in rule.host else rule.host
        origin = f"{scheme}://{host}{port}"
        return self.extended(identity=[f"{origin}/"], api=[f"{origin}{root}"])

    def classify(self, url: str) -> Face | None:
        try:
            parts = urlsplit(url)
            host, port = (parts.hostname or "").lower(), parts.port
        except ValueError:
            return None
        port = port or _DEFAULT_PORTS.get(parts.scheme.lower())
        matching = [rule for rule in self.rules if rule.matches(host, port, parts.path or "/")]
        if not matching:
            return None
        return max(matching, key=lambda rule: rule.specificity).face


DEFAULT_HOSTS = SageHosts()


def classify_host(url: str, *, hosts: SageHosts = DEFAULT_HOSTS) -> Face | None:
    """`"identity"` for Sage ID, `"api"` for the Sage 200 API, None for anything else."""
    return hosts.classify(url)
