"""`emulate --record FILE.har`: the emulator's traffic written as a HAR 1.2 capture.

`RecorderMiddleware` sits outside everything else (faults included), so it records each request
as the client sent it (method, URL with the raw path and query, headers, body) and the answer
the client really got (status, headers, body, a cut-off connection), with timings. `/_emulator/`
requests are not recorded. `HarRecorder` writes entries as they complete, in completion order,
flushing each one: after `close()` the file is valid JSON; if the process is killed before
that, the file ends mid-list and a reader reports it as cut short, with every entry before it.

This is the server's own writer: it shares nothing with the HAR reader in `recorded/`, so a
reading test of a recorded file checks two independent implementations against each other.
The file holds live tokens and secrets (it is a capture), so it is created readable by its
owner only.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qsl, quote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import __version__

RECORDED_BODY_LIMIT = 1024 * 1024
"""Bytes of each body kept; the rest is counted in `size` (the huge-body fault sends 64 MiB)."""
CREATOR = {"name": "sage200-doctor emulator", "version": __version__}
_FORM = "application/x-www-form-urlencoded"


class HarRecorder:
    """A HAR 1.2 file written one entry at a time; thread-safe; `close()` completes it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        self._file: IO[str] | None = os.fdopen(descriptor, "w", encoding="utf-8")
        self._lock = threading.Lock()
        self.count = 0
        head = {"version": "1.2", "creator": CREATOR, "pages": []}
        self._emit(json.dumps({"log": head})[:-2] + ', "entries": [\n')

    def write(self, entry: Mapping[str, Any]) -> None:
        """Append one entry (ignored once closed: a late answer during shutdown)."""
        text = json.dumps(entry, ensure_ascii=False)
        with self._lock:
            if self._file is None:
                return
            self._emit((",\n" if self.count else "") + text)
            self.count += 1

    def close(self) -> None:
        """Finish the JSON and close the file; safe to call twice."""
        with self._lock:
            if self._file is None:
                return
            try:
                self._emit("\n]}}\n")
            finally:
                self._file.close()
                self._file = None

    def _emit(self, text: str) -> None:
        assert self._file is not None
        self._file.write(text)
        self._file.flush()

    def __enter__(self) -> HarRecorder:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class _Body:
    """Bytes seen on one side of an exchange: the first `limit` kept, all counted."""

    def __init__(self, limit: int = RECORDED_BODY_LIMIT) -> None:
        self.kept = bytearray()
        self.size = 0
        self._limit = limit

    def add(self, chunk: bytes) -> None:
        self.size += len(chunk)
        room = self._limit - len(self.kept)
        if room > 0:
            self.kept += chunk[:room]

    @property
    def truncated(self) -> bool:
        return self.size > len(self.kept)


class _Answer:
    """What the client was sent: status and headers, body, whether the body was finished."""

    def __init__(self) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = _Body()
        self.complete = False
        self.first_byte: float | None = None


class RecorderMiddleware:
    """Records every HTTP exchange (except `/_emulator/`) into a `HarRecorder`."""

    def __init__(self, app: ASGIApp, recorder: HarRecorder) -> None:
        self.app = app
        self.recorder = recorder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_emulator/"):
            await self.app(scope, receive, send)
            return
        started, clock = datetime.now(UTC), time.perf_counter()
        sent, answer = _Body(), _Answer()

        async def receive_and_keep() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                sent.add(message.get("body", b""))
            return message

        async def send_and_keep(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer.status, answer.headers = message["status"], list(message["headers"])
                answer.first_byte = time.perf_counter()
            elif message["type"] == "http.response.body":
                answer.body.add(message.get("body", b""))
                answer.complete = not message.get("more_body", False)
            await send(message)

        try:
            await self.app(scope, receive_and_keep, send_and_keep)
        finally:
            timing = (clock, answer.first_byte, time.perf_counter())
            self.recorder.write(har_entry(scope, started, timing, sent, answer))


def har_entry(
    scope: Scope,
    started: datetime,
    timing: tuple[float, float | None, float],
    sent: _Body,
    answer: _Answer,
) -> dict[str, Any]:
    begin, first_byte, end = timing
    wait = ((first_byte or end) - begin) * 1000
    receive = (end - (first_byte or end)) * 1000
    entry: dict[str, Any] = {
        "startedDateTime": started.isoformat(timespec="milliseconds"),
        "time": round(wait + receive, 3),
        "request": _request(scope, sent),
        "response": _response(scope, answer),
        "cache": {},
        "timings": {"blocked": -1, "dns": -1, "connect": -1, "ssl": -1, "send": 0,
                    "wait": round(wait, 3), "receive": round(receive, 3)},
    }  # fmt: skip
    server = scope.get("server")
    if server:
        entry["serverIPAddress"] = str(server[0])
    return entry


def _pairs(raw: list[tuple[bytes, bytes]]) -> list[dict[str, str]]:
    return [{"name": k.decode("latin-1"), "value": v.decode("latin-1")} for k, v in raw]


def _find(raw: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    return next((v.decode("latin-1") for k, v in raw if k.lower() == name), None)


def _request(scope: Scope, sent: _Body) -> dict[str, Any]:
    headers = list(scope.get("headers", []))
    query = scope.get("query_string", b"").decode("latin-1")
    request: dict[str, Any] = {
        "method": scope["method"],
        "url": _url(scope, headers, query),
        "httpVersion": f"HTTP/{scope.get('http_version', '1.1')}",
        "cookies": [],
        "headers": _pairs(headers),
        "queryString": [
            {"name": k, "value": v} for k, v in parse_qsl(query, keep_blank_values=True)
        ],
        "headersSize": -1,
        "bodySize": sent.size,
    }
    if sent.size:
        request["postData"] = _post_data(_find(headers, b"content-type") or "", sent)
    return request


def _url(scope: Scope, headers: list[tuple[bytes, bytes]], query: str) -> str:
    """The URL as the client asked for it: its Host header, its raw (still encoded) path."""
    host = _find(headers, b"host")
    if not host:
        server_host, port = scope.get("server") or ("localhost", None)
        host = f"{server_host}:{port}" if port else str(server_host)
    raw_path = scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else quote(scope["path"])
    return f"{scope.get('scheme', 'http')}://{host}{path}" + (f"?{query}" if query else "")


def _post_data(mime: str, sent: _Body) -> dict[str, Any]:
    text = bytes(sent.kept).decode("utf-8", errors="replace")
    post: dict[str, Any] = {"mimeType": mime, "text": text}
    if mime.lower().startswith(_FORM):
        post["params"] = [
            {"name": k, "value": v} for k, v in parse_qsl(text, keep_blank_values=True)
        ]
    if sent.truncated:
        post["comment"] = f"cut to the first {len(sent.kept):,} of {sent.size:,} bytes"
    return post


def _response(scope: Scope, answer: _Answer) -> dict[str, Any]:
    response: dict[str, Any] = {
        "status": answer.status,
        "statusText": _reason(answer.status),
        "httpVersion": f"HTTP/{scope.get('http_version', '1.1')}" if answer.status else "",
        "cookies": [],
        "headers": _pairs(answer.headers),
        "content": _content(_find(answer.headers, b"content-type"), answer.body),
        "redirectURL": _find(answer.headers, b"location") or "",
        "headersSize": -1,
        "bodySize": answer.body.size,
    }
    if not answer.status:
        response["_error"] = "the emulator sent no answer (the client left first)"
    elif not answer.complete:
        response["_error"] = "the emulator closed the connection before the body was complete"
    return response


def _content(mime: str | None, body: _Body) -> dict[str, Any]:
    content: dict[str, Any] = {"size": body.size, "mimeType": mime or "x-unknown"}
    raw = bytes(body.kept)
    try:
        content["text"] = raw.decode("utf-8")
    except UnicodeDecodeError:  # binary, or a multi-byte character cut by the limit
        content["text"] = base64.b64encode(raw).decode("ascii")
        content["encoding"] = "base64"
    if body.truncated:
        content["comment"] = f"cut to the first {len(raw):,} of {body.size:,} bytes"
    return content


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
