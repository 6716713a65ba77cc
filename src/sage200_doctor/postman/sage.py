"""Which resolved URLs are Sage 200 API calls, and what their paths say (edition, resource)."""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import urlsplit

API_HOST: Final = "api.columbus.sage.com"
EDITION_PATHS: Final = {"/uk/sage200/": "standard", "/uk/sage200extra/": "professional"}
_BASE: Final = re.compile(r"^(?P<base>/uk/sage200(?:extra)?/accounts/v\d+/)(?P<rest>.*)$", re.I)
UNSCOPED_RESOURCES: Final = frozenset({"sites"})
"""Resources called without X-Site / X-Company: GET sites is how one finds their values."""


def is_sage_api(url: str, api_base_url: str | None = None) -> bool:
    """A request to the Sage 200 API: on its host under an edition path, or under a configured
    base (a test server such as the emulator)."""
    parts = urlsplit(url)
    if api_base_url and _origin(url) == _origin(api_base_url):
        base_path = urlsplit(api_base_url).path
        if parts.path.startswith(base_path) or edition_of(url):
            return True
    return (parts.hostname or "").lower() == API_HOST and edition_of(url) is not None


def edition_of(url: str) -> str | None:
    """`standard` or `professional` from the URL's path, or None."""
    path = urlsplit(url).path.lower()
    for prefix, edition in EDITION_PATHS.items():
        if path.startswith(prefix):
            return edition
    return None


def path_of(url: str) -> str:
    """The URL's path alone (never its query, which may carry a key)."""
    return urlsplit(url).path or "/"


def api_base_of(url: str) -> str | None:
    """`scheme://host/uk/sage200…/accounts/vN/` for a Sage 200 API URL, or None."""
    parts = urlsplit(url)
    match = _BASE.match(parts.path)
    if not parts.scheme or not parts.netloc or match is None:
        return None
    return f"{parts.scheme}://{parts.netloc}{match['base']}"


def resource_of(url: str) -> str:
    """The first path segment after `accounts/vN/` (`customers`, `sites`, ...)."""
    path = urlsplit(url).path
    match = _BASE.match(path)
    rest = match["rest"] if match else path.rsplit("/", 1)[-1]
    return rest.strip("/").split("/", 1)[0].lower()


def company_scoped(url: str) -> bool:
    """Does this call need X-Site and X-Company? Every resource but `sites` does."""
    return resource_of(url) not in UNSCOPED_RESOURCES


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()
