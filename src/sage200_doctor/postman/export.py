"""`--write-env`: the SAGE200_* settings a Postman collection and environment already hold, written
as an env file that `sage200-doctor run --env FILE` reads.

Only what the export really holds is written (a client secret only where the export had one);
a value that still contains an unresolved `{{variable}}` is left out. Where requests disagree
(two X-Site values, say) the value most requests use wins.
"""

from __future__ import annotations

import io
import os
import re
import stat
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from contextlib import suppress
from pathlib import Path
from typing import Final
from urllib.parse import unquote, urlsplit, urlunsplit

from dotenv import dotenv_values

from sage200_doctor.config.envfile import quote
from sage200_doctor.config.settings import KNOWN_KEYS
from sage200_doctor.redact import is_secret_name

from .model import Auth, Collection, PostmanError, ResolvedRequest, VariableScope
from .resolve import resolve_requests
from .sage import api_base_of, edition_of, is_sage_api
from .variables import Scopes

FILE_MODE: Final = 0o600
CLIENT_AUTH: Final = {"header": "basic", "body": "body"}
ACCESS_TOKEN_NAMES: Final = frozenset({"accesstoken", "sage200accesstoken"})
REFRESH_TOKEN_NAMES: Final = frozenset({"refreshtoken", "sage200refreshtoken"})
_REFERENCE: Final = re.compile(
    r"\breference\s+eq\s+['‘’\"](?P<ref>(?:''|[^'‘’\"])*)['‘’\"]",  # curly quotes too
    re.IGNORECASE,
)


def settings_from_export(
    collection: Collection,
    *,
    environment: VariableScope | None = None,
    globals_: VariableScope | None = None,
    api_base_url: str | None = None,
) -> dict[str, str]:
    """SAGE200_* settings derived from the export, in the order of the contract's key table."""
    requests = resolve_requests(collection, environment=environment, globals_=globals_)
    sage = [request for request in requests if is_sage_api(request.url, api_base_url)]
    scopes = Scopes.of(environment=environment, collection=collection.variables, globals_=globals_)
    found: dict[str, str | None] = {
        "SAGE200_API_BASE_URL": _most_common(api_base_of(request.url) for request in sage),
        "SAGE200_EDITION": _most_common(edition_of(request.url) for request in sage),
        **_oauth_settings(_main_oauth2(sage)),
        "SAGE200_SUBSCRIPTION_KEY": _header_value(sage, "ocp-apim-subscription-key"),
        "SAGE200_SITE_ID": _header_value(sage, "X-Site"),
        "SAGE200_COMPANY_ID": _header_value(sage, "X-Company"),
        "SAGE200_ACCESS_TOKEN": _token(scopes, ACCESS_TOKEN_NAMES, _main_oauth2(sage)),
        "SAGE200_REFRESH_TOKEN": _token(scopes, REFRESH_TOKEN_NAMES, None),
        "SAGE200_CUSTOMER_REFERENCE": _customer_reference(sage),
    }
    usable = {key: value for key, value in found.items() if value and "{{" not in value}
    return {key: usable[key] for key in KNOWN_KEYS if key in usable}


def secrets_in_export(
    collection: Collection,
    *,
    environment: VariableScope | None = None,
    globals_: VariableScope | None = None,
) -> frozenset[str]:
    """Every value in the export that is a credential, for a `Redactor` to mask: variables
    exported as `secret` or named like a credential, and the resolved secret auth fields and
    headers of every request."""
    scopes = Scopes.of(environment=environment, collection=collection.variables, globals_=globals_)
    values = {
        variable.value
        for layer in scopes.layers
        for variable in layer.variables
        if variable.secret or is_secret_name(variable.key)
    }
    for request in resolve_requests(collection, environment=environment, globals_=globals_):
        values |= {pair.value for pair in request.headers if is_secret_name(pair.key)}
        values |= {pair.value for pair in request.query if is_secret_name(pair.key)}
        if request.auth is not None:
            values |= {value for key, value in request.auth.fields if _secret_field(key)}
    return frozenset(value for value in values if value.strip() and "{{" not in value)


def _secret_field(key: str) -> bool:
    return is_secret_name(key) or _normal(key) in {"token", "password", "clientsecret"}


def write_env_file(
    path: Path,
    settings: Mapping[str, str],
    *,
    force: bool = False,
    sources: Sequence[Path | None] = (),
) -> Path:
    """Write `settings` as an env file at `path`, readable by its owner only (0600).

    An existing file is never overwritten unless `force`; then it is replaced atomically (and
    keeps mode 0600). The content is read back with python-dotenv before it is written.
    Raises `PostmanError` when the file exists (without `force`) or cannot be written.
    """
    unknown = sorted(set(settings) - set(KNOWN_KEYS))
    if unknown:
        raise ValueError(f"not SAGE200_* settings: {', '.join(unknown)}")
    content = render_env(settings, sources=sources)
    if dotenv_values(stream=io.StringIO(content), interpolate=False) != dict(settings):
        raise PostmanError("A value could not be written so that it reads back exactly.")
    try:
        _replace(path, content) if force else _create(path, content)
    except FileExistsError:
        raise PostmanError(
            f"{path} already exists and was left as it is; choose another file or pass --force."
        ) from None
    except OSError as error:
        raise PostmanError(f"{path} could not be written: {error.strerror or error}.") from None
    return path


def render_env(settings: Mapping[str, str], *, sources: Iterable[Path | None] = ()) -> str:
    """The env file text: a comment naming the source files, then one quoted line per key."""
    names = ", ".join(_one_line(source.name) for source in sources if source is not None)
    names = names or "a Postman export"
    header = (
        f"# Written by `sage200-doctor postman` from {names}.\n"
        "# It holds credentials: keep it private (mode 0600) and out of version control.\n"
    )
    return header + "".join(f"{key}={quote(value)}\n" for key, value in settings.items())


# --- what each setting is read from -------------------------------------------------------------


def _most_common(values: Iterable[str | None]) -> str | None:
    counted = Counter(value for value in values if value)
    return counted.most_common(1)[0][0] if counted else None


def _main_oauth2(requests: Sequence[ResolvedRequest]) -> Auth | None:
    auths = [request.auth for request in requests if request.auth and request.auth.type == "oauth2"]
    counted = Counter(auth.defined_at for auth in auths)
    if not counted:
        return None
    chosen = counted.most_common(1)[0][0]
    return next(auth for auth in auths if auth.defined_at == chosen)


def _oauth_settings(auth: Auth | None) -> dict[str, str | None]:
    if auth is None:
        return {}
    authorize = (auth.get("authUrl") or "").strip()
    audience = [
        p.value for p in auth.params if p.stage == "auth" and p.enabled and p.key == "audience"
    ]
    client_auth = (auth.get("client_authentication") or "header").strip()
    return {
        "SAGE200_AUTH_URL": urlunsplit(urlsplit(authorize)._replace(query=""))
        if authorize
        else None,
        "SAGE200_TOKEN_URL": (auth.get("accessTokenUrl") or "").strip() or None,
        "SAGE200_AUDIENCE": audience[-1].strip() if audience else None,
        "SAGE200_CLIENT_ID": (auth.get("clientId") or "").strip() or None,
        "SAGE200_CLIENT_SECRET": auth.get("clientSecret") or None,
        "SAGE200_CLIENT_AUTH": CLIENT_AUTH.get(client_auth),
        "SAGE200_REDIRECT_URI": (auth.get("redirect_uri") or "").strip() or None,
        "SAGE200_SCOPE": (auth.get("scope") or "").strip() or None,
    }


def _header_value(requests: Sequence[ResolvedRequest], name: str) -> str | None:
    return _most_common((request.header(name) or "").strip() for request in requests)


def _token(scopes: Scopes, names: frozenset[str], auth: Auth | None) -> str | None:
    for layer in scopes.layers:
        for variable in reversed(layer.variables):
            if variable.enabled and _normal(variable.key) in names and variable.value.strip():
                return _without_scheme(variable.value)
    saved = auth.get("accessToken") if auth is not None else None
    return _without_scheme(saved) if saved and saved.strip() else None


def _without_scheme(token: str) -> str:
    text = token.strip()
    return text[6:].strip() if text[:6].lower() == "bearer" and text[6:7].isspace() else text


def _customer_reference(requests: Sequence[ResolvedRequest]) -> str | None:
    for request in requests:
        for pair in request.query:
            if unquote(pair.key).strip().lower() != "$filter":
                continue
            match = _REFERENCE.search(unquote(pair.value))
            if match:
                return match["ref"].replace("''", "'")
    return None


def _normal(name: str) -> str:
    return re.sub(r"[-_\s]", "", name.lower())


def _one_line(text: str) -> str:
    return "".join(char if char.isprintable() else "?" for char in text)


# --- writing ------------------------------------------------------------------------------------


def _create(path: Path, content: str) -> None:
    # O_EXCL: never follow or replace what is already there, even if it appeared a moment ago.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        _write(fd, content)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(path)
        raise


def _replace(path: Path, content: str) -> None:
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        _write(fd, content)
        os.replace(temporary, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def _write(fd: int, content: str) -> None:
    """Write `content` to the open file `fd` (closing it), owner-only whatever the umask."""
    with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
        if os.name == "posix":
            os.fchmod(handle.fileno(), FILE_MODE)
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())


def file_mode(path: Path) -> int:
    """The permission bits of `path` (for tests and the CLI's own report)."""
    return stat.S_IMODE(path.stat().st_mode)
