"""Each request of a collection as Postman would send it.

Auth is inherited the way postman-collection's `Item#getAuth` does it (`lib/collection/item.js`):
a request's own `auth` wins when it has a type (`noauth` included, which sends nothing); a missing
or null `auth` (Postman's "Inherit auth from parent") takes the nearest folder's, then the
collection's. Disabled headers and query parameters are dropped. A URL object is rebuilt from its
parts as postman-collection's `Url#toString` does (`raw` is used only when there are no parts),
with `:name` path segments replaced from the URL's `variable` list.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal
from urllib.parse import urlsplit

from .load import text_of
from .model import (
    Auth,
    AuthParam,
    Collection,
    Example,
    Pair,
    ResolvedRequest,
    VariableScope,
)
from .variables import Resolver, Scopes

Stage = Literal["auth", "token", "refresh"]
_STAGES: Final[Mapping[str, Stage]] = {
    "authRequestParams": "auth",
    "tokenRequestParams": "token",
    "refreshRequestParams": "refresh",
}
Json = Mapping[str, object]


@dataclass(frozen=True)
class _RawAuth:
    """An `auth` object as written, and the item path where it was written."""

    body: Json
    defined_at: tuple[str, ...]


def resolve_requests(
    collection: Collection,
    *,
    environment: VariableScope | None = None,
    globals_: VariableScope | None = None,
) -> tuple[ResolvedRequest, ...]:
    """Every request in the collection, in order, resolved against the given scopes."""
    scopes = Scopes.of(environment=environment, collection=collection.variables, globals_=globals_)
    root_auth = _own_auth(collection.document, ())
    return tuple(
        _resolve(item, path, auth, scopes)
        for item, path, auth in _walk(_items(collection.document), (), root_auth)
    )


def _walk(
    items: Sequence[Json], parent: tuple[str, ...], inherited: _RawAuth | None
) -> Iterator[tuple[Json, tuple[str, ...], _RawAuth | None]]:
    for index, item in enumerate(items):
        path = (*parent, str(item.get("name") or f"item {index + 1}"))
        if "request" in item:
            yield item, path, inherited
        else:  # a folder: its auth (if any) is what its children inherit
            yield from _walk(_items(item), path, _own_auth(item, path) or inherited)


def _items(node: Json) -> list[Json]:
    items = node.get("item")
    return [item for item in items if isinstance(item, Mapping)] if isinstance(items, list) else []


def _own_auth(node: Json, path: tuple[str, ...]) -> _RawAuth | None:
    auth = node.get("auth")
    if isinstance(auth, Mapping) and isinstance(auth.get("type"), str):
        return _RawAuth(auth, path)
    return None


def _resolve(
    item: Json, path: tuple[str, ...], inherited: _RawAuth | None, scopes: Scopes
) -> ResolvedRequest:
    raw = item.get("request")
    request: Json = raw if isinstance(raw, Mapping) else {"url": raw, "method": "GET"}
    resolve = Resolver(scopes)
    url, query = _url(request.get("url"), resolve)
    raw_auth = _own_auth(request, path) or inherited
    body = request.get("body")
    return ResolvedRequest(
        path=path,
        method=str(request.get("method") or "GET").upper(),
        url=url,
        headers=_headers(request.get("header"), resolve),
        query=query,
        auth=_auth(raw_auth, resolve) if raw_auth else None,
        body_mode=_body_mode(body),
        unresolved=resolve.unresolved,
        examples=tuple(_examples(item.get("response"))),
    )


# --- URL ----------------------------------------------------------------------------------------


def _url(raw: object, resolve: Resolver) -> tuple[str, tuple[Pair, ...]]:
    if isinstance(raw, Mapping) and ("host" in raw or "path" in raw):
        return _url_from_parts(raw, resolve)
    text = raw.get("raw") if isinstance(raw, Mapping) else raw
    url = resolve(text_of(text), "url")
    return url, _query_of(url)


def _url_from_parts(url: Json, resolve: Resolver) -> tuple[str, tuple[Pair, ...]]:
    protocol = text_of(url.get("protocol"))
    host = _joined(url.get("host"), ".")
    port = text_of(url.get("port"))
    path = "/".join(_path_segments(url))
    query = tuple(_pairs(url.get("query"), resolve, "query"))
    text = (protocol.removesuffix("://") + "://" if protocol else "") + host
    text += f":{port}" if port else ""
    text += "/" + path if path or "path" in url else ""
    text = resolve(text, "url")  # query values were resolved on their own, just above
    text += "?" + "&".join(f"{pair.key}={pair.value}" for pair in query) if query else ""
    text += "#" + text_of(url.get("hash")) if url.get("hash") is not None else ""
    return text, query


def _joined(value: object, separator: str) -> str:
    if isinstance(value, list):
        return separator.join(text_of(part) for part in value)
    return text_of(value)


def _path_segments(url: Json) -> list[str]:
    path = url.get("path")
    parts = path.lstrip("/").split("/") if isinstance(path, str) else path
    values = _path_variables(url.get("variable"))
    segments = []
    for part in parts if isinstance(parts, list) else []:
        segment = text_of(part.get("value")) if isinstance(part, Mapping) else text_of(part)
        name = segment[1:].split(".")[0] if segment.startswith(":") else ""
        if name and values.get(name):
            segment = values[name] + segment[1 + len(name) :]
        segments.append(segment)
    return segments


def _path_variables(raw: object) -> dict[str, str]:
    values: dict[str, str] = {}
    for entry in raw if isinstance(raw, list) else []:
        if isinstance(entry, Mapping) and not entry.get("disabled"):
            key = entry.get("key", entry.get("id"))
            if isinstance(key, str):
                values[key] = text_of(entry.get("value"))
    return values


def _query_of(url: str) -> tuple[Pair, ...]:
    query = urlsplit(url).query if "?" in url else ""
    pairs = []
    for part in query.split("&") if query else []:
        key, _, value = part.partition("=")
        pairs.append(Pair(key, value))
    return tuple(pairs)


# --- headers, query parameters, body, examples --------------------------------------------------


def _headers(raw: object, resolve: Resolver) -> tuple[Pair, ...]:
    if isinstance(raw, str):  # the format also allows "Key: value" lines; `//` disables one
        raw = [_header_line(line) for line in raw.splitlines() if ":" in line]
    return tuple(_pairs(raw, resolve, "header"))


def _header_line(line: str) -> dict[str, object]:
    key, _, value = line.partition(":")
    disabled = key.strip().startswith("//")
    return {
        "key": key.strip().removeprefix("//").strip(),
        "value": value.strip(),
        "disabled": disabled,
    }


def _pairs(raw: object, resolve: Resolver, kind: str) -> Iterator[Pair]:
    for entry in raw if isinstance(raw, list) else []:
        if not isinstance(entry, Mapping) or entry.get("disabled") is True:
            continue
        key = resolve(text_of(entry.get("key")), kind)
        yield Pair(key, resolve(text_of(entry.get("value")), f"{kind} {key}"))


def _body_mode(body: object) -> str | None:
    if isinstance(body, Mapping) and not body.get("disabled") and body.get("mode"):
        return text_of(body.get("mode"))
    return None


def _examples(raw: object) -> Iterator[Example]:
    for index, entry in enumerate(raw if isinstance(raw, list) else []):
        if not isinstance(entry, Mapping):
            continue
        code = entry.get("code")
        yield Example(
            name=text_of(entry.get("name")) or f"example {index + 1}",
            status=code if isinstance(code, int) and not isinstance(code, bool) else None,
            headers=_example_headers(entry.get("header")),
            body=text_of(entry.get("body")),
        )


def _example_headers(raw: object) -> tuple[Pair, ...]:
    pairs = []
    for entry in raw if isinstance(raw, list) else []:
        if isinstance(entry, Mapping):
            pairs.append(Pair(text_of(entry.get("key")), text_of(entry.get("value"))))
        elif isinstance(entry, str) and ":" in entry:
            key, _, value = entry.partition(":")
            pairs.append(Pair(key.strip(), value.strip()))
    return tuple(pairs)


# --- auth ---------------------------------------------------------------------------------------


def _auth(raw: _RawAuth, resolve: Resolver) -> Auth:
    kind = text_of(raw.body.get("type"))
    fields: list[tuple[str, str]] = []
    params: list[AuthParam] = []
    for key, value in _auth_entries(raw.body.get(kind)):
        stage = _STAGES.get(key)
        if stage is not None:
            params.extend(_auth_params(stage, value, resolve, kind))
        else:
            fields.append((key, resolve(text_of(value), f"auth {kind}.{key}")))
    return Auth(kind, tuple(fields), tuple(params), raw.defined_at)


def _auth_entries(raw: object) -> Iterator[tuple[str, object]]:
    """v2.1 stores auth settings as `[{key, value, type}]`; v2.0 as a plain object."""
    if isinstance(raw, Mapping):
        yield from ((str(key), value) for key, value in raw.items())
    elif isinstance(raw, list):
        for entry in raw:
            if isinstance(entry, Mapping) and isinstance(entry.get("key"), str):
                yield str(entry["key"]), entry.get("value")


def _auth_params(stage: Stage, raw: object, resolve: Resolver, kind: str) -> Iterator[AuthParam]:
    for entry in raw if isinstance(raw, list) else []:
        if isinstance(entry, Mapping) and isinstance(entry.get("key"), str):
            key = str(entry["key"])
            yield AuthParam(
                stage=stage,
                key=key,
                value=resolve(text_of(entry.get("value")), f"auth {kind}.{stage} parameter {key}"),
                enabled=entry.get("enabled") is not False,
                send_as=text_of(entry.get("send_as")),
            )
