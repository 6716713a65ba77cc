"""The app factory: one Starlette app serving identity, gateway+API and /_emulator/ on one port.

No module-level state: everything an instance remembers lives on `app.state.emulator`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from datetime import date

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .api import API_METHODS, uk_endpoint
from .authorize import authorize, decide
from .clock import DateHeaderMiddleware
from .config import EmulatorConfig, public_settings
from .faults import FaultMiddleware
from .identity import jwks, logout, openid_configuration
from .recorder import HarRecorder, RecorderMiddleware
from .state import EmulatorState, Face, LoggedRequest
from .token_endpoint import token
from .wire import emulator_state


def create_app(
    config: EmulatorConfig,
    *,
    latency_ms: int = 0,
    public_base_url: str | None = None,
    recorder: HarRecorder | None = None,
) -> Starlette:
    """An emulator app; `public_base_url` pins the issuer (else it follows the Host header);
    `recorder` receives every exchange as a HAR entry (the caller closes it)."""
    state = EmulatorState(config, latency_ms=latency_ms, public_base_url=public_base_url)
    routes = [
        Route("/.well-known/openid-configuration", openid_configuration, methods=["GET"]),
        Route("/.well-known/jwks.json", jwks, methods=["GET"]),
        Route("/authorize", authorize, methods=["GET"]),
        Route("/authorize", decide, methods=["POST"]),
        Route("/authorize/decision", decide, methods=["POST"]),
        Route("/oauth/token", token, methods=["POST"]),
        Route("/v2/logout", logout, methods=["GET"]),
        Route("/_emulator/requests", requests_view, methods=["GET"]),
        Route("/_emulator/config", config_view, methods=["GET"]),
        Route("/uk/{path:path}", uk_endpoint, methods=API_METHODS),
    ]
    # The log and the recorder sit outside the faults, so they record what the client was
    # really answered; the recorder sits outside the latency too (its timings include it).
    middleware = [
        Middleware(RequestLogMiddleware, state=state),
        Middleware(DateHeaderMiddleware, config=state.config),
        Middleware(FaultMiddleware, config=state.config),
    ]
    if recorder is not None:
        middleware.insert(0, Middleware(RecorderMiddleware, recorder=recorder))
    app = Starlette(routes=routes, middleware=middleware)
    app.state.emulator = state
    return app


async def requests_view(request: Request) -> Response:
    log = emulator_state(request).request_log()
    return JSONResponse([dataclasses.asdict(entry) for entry in log])


async def config_view(request: Request) -> Response:
    config = emulator_state(request).config
    settings = {key: _jsonable(value) for key, value in public_settings(config).items()}
    return JSONResponse({"scenario": config.scenario, "settings": settings})


def _jsonable(value: object) -> object:
    if isinstance(value, tuple):
        return [_jsonable(item) for item in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)  # a FaultRule
    if isinstance(value, date):
        return value.isoformat()  # site_version
    return value


_FACES: dict[str, Face] = {"identity": "identity", "gateway": "gateway", "api": "api"}


def default_face(path: str) -> Face:
    if path.startswith("/_emulator/"):
        return "emulator"
    return "api" if path.startswith("/uk/") else "identity"


class RequestLogMiddleware:
    """Records every HTTP request (method, path, status, face, arrival and answer times) and
    applies injected latency."""

    def __init__(self, app: ASGIApp, state: EmulatorState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        arrived = time.time()
        if self.state.latency_ms:
            await asyncio.sleep(self.state.latency_ms / 1000)
        tags: dict[str, object] = scope.setdefault("state", {})
        status, recorded = 500, False

        def record() -> None:
            nonlocal recorded
            face = _FACES.get(str(tags.get("face")), default_face(scope["path"]))
            fault = tags.get("fault")
            entry = LoggedRequest(
                scope["method"],
                scope["path"],
                status,
                face,
                arrived,
                time.time(),
                fault=str(fault) if fault else None,
            )
            self.state.record(entry)
            recorded = True

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if tags.get("fault") is not None:
                    record()  # as it starts: a faulted answer may never finish (trickle)
            elif (
                message["type"] == "http.response.body"
                and not message.get("more_body")
                and not recorded
            ):
                # Before the last byte leaves: a client that has its answer sees it in the log.
                record()
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            if not recorded:
                record()
