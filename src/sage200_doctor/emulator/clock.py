"""The emulated services' clock, which need not be the machine's (`clock_offset_s`).

Sage ID mints tokens and the API judges them by Sage's clocks, not by the clock of the machine
sage200-doctor runs on. With an offset, the emulator mints and checks tokens and dates its
answers (the `Date` header) by a clock that far off the machine's: the machine then looks
wrong to the services, as a machine with a wrong clock does to the real ones.
"""

from __future__ import annotations

import email.utils
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .config import EmulatorConfig


def service_now(config: EmulatorConfig) -> float:
    """The time by the emulated services' clock."""
    return time.time() + config.clock_offset_s


class DateHeaderMiddleware:
    """Dates every answer by the services' clock (uvicorn's own Date header is off)."""

    def __init__(self, app: ASGIApp, config: EmulatorConfig) -> None:
        self.app = app
        self.config = config

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def dated(message: Message) -> None:
            if message["type"] == "http.response.start":
                date = email.utils.formatdate(service_now(self.config), usegmt=True)
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"date"]
                message = {**message, "headers": [*headers, (b"date", date.encode())]}
            await send(message)

        await self.app(scope, receive, dated)
