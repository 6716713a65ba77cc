"""Turning transport exceptions into named network findings a person can act on."""

from __future__ import annotations

import ssl
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

_TLS_REASONS = (
    ("hostname mismatch", "tls-hostname", "the certificate is for another host name"),
    ("ip address mismatch", "tls-hostname", "the certificate is for another address"),
    ("doesn't match", "tls-hostname", "the certificate is for another host name"),
    ("certificate has expired", "tls-expired", "the certificate has expired"),
    ("self-signed", "tls-untrusted", "the certificate is self-signed and not trusted here"),
    ("unable to get local issuer", "tls-untrusted", "the certificate's issuer is not trusted here"),
    ("certificate verify failed", "tls-untrusted", "the certificate could not be verified"),
)
_DNS_WORDS = (
    "name or service not known",
    "nodename nor servname",
    "temporary failure in name resolution",
    "no address associated",
    "getaddrinfo failed",
    "name resolution",
)


@dataclass(frozen=True)
class NetworkProblem:
    """A request that got no HTTP answer. `kind` is stable; `sentence` is for people."""

    kind: str
    sentence: str


def host_of(url: str) -> str:
    """`host:port` of a URL, without the user info (`user:password@`) it may carry."""
    try:
        netloc = urlsplit(url if "://" in url else f"//{url}").netloc
    except ValueError:
        netloc = ""
    return netloc.rpartition("@")[2] or "the configured host"


def proxy_for(url: str) -> str | None:
    """The proxy the environment (HTTPS_PROXY, NO_PROXY, …) routes `url` through, if any."""
    parts = urlsplit(url)
    if not parts.hostname or urllib.request.proxy_bypass(parts.hostname):
        return None
    proxies = urllib.request.getproxies()
    return proxies.get(parts.scheme) or proxies.get("all")


def classify(error: httpx.HTTPError, host: str, *, proxy: str | None = None) -> NetworkProblem:
    """Name what went wrong on the way to `host`, from the exception chain."""
    text = _chain_text(error).lower()
    if isinstance(error, httpx.ProxyError) or "proxy" in text:
        return NetworkProblem("proxy", f"The proxy refused or failed the connection to {host}.")
    if proxy is not None and isinstance(error, httpx.ConnectError) and "refused" in text:
        where = host_of(proxy)  # never its user name or password
        return NetworkProblem(
            "proxy",
            f"The proxy {where} (from HTTPS_PROXY / HTTP_PROXY) refused the connection to it.",
        )
    if isinstance(error, httpx.ConnectTimeout):
        return NetworkProblem("connect-timeout", f"Connecting to {host} timed out.")
    if isinstance(error, httpx.ReadTimeout | httpx.WriteTimeout | httpx.PoolTimeout):
        return NetworkProblem(
            "read-timeout", f"{host} accepted the connection but did not answer in time."
        )
    if _is_tls(error, text):
        return _tls_problem(text, host)
    if any(word in text for word in _DNS_WORDS):
        return NetworkProblem("dns", f"The host name {host} could not be resolved (DNS).")
    if "refused" in text:
        return NetworkProblem(
            "refused", f"{host} refused the connection: nothing is listening on that port."
        )
    if isinstance(error, httpx.RemoteProtocolError) or "reset" in text:
        return NetworkProblem(
            "reset", f"The connection to {host} was closed in the middle of the answer."
        )
    return NetworkProblem("other", f"The request to {host} failed: {type(error).__name__}.")


def _is_tls(error: BaseException, text: str) -> bool:
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ssl.SSLError):
            return True
        cause = cause.__cause__ or cause.__context__
    return "certificate" in text or "ssl" in text


def _tls_problem(text: str, host: str) -> NetworkProblem:
    for needle, kind, reason in _TLS_REASONS:
        if needle in text:
            return NetworkProblem(kind, f"TLS to {host} failed: {reason}.")
    return NetworkProblem("tls", f"The TLS handshake with {host} failed.")


def _chain_text(error: BaseException) -> str:
    parts: list[str] = []
    cause: BaseException | None = error
    while cause is not None and len(parts) < 8:
        parts.append(f"{type(cause).__name__}: {cause}")
        cause = cause.__cause__ or cause.__context__
    return " | ".join(parts)
