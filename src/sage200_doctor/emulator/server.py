"""Running the emulator on a real loopback socket: in a background thread, or in the foreground.

The socket is bound here (not by uvicorn) so that the real port, and with it the issuer URL and
the env() tokens, are known before the first request; a bind error surfaces in the caller.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType

import uvicorn

from .app import create_app
from .config import EmulatorConfig
from .envfile import build_env
from .recorder import HarRecorder
from .scenarios import scenario_config
from .state import EmulatorState, LoggedRequest

_START_TIMEOUT_S = 10.0


class _QuickServer(uvicorn.Server):
    """uvicorn's server, polling for shutdown every 10 ms instead of every 100 ms."""

    async def main_loop(self) -> None:
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864_000
            await asyncio.sleep(0.01)


class RunningEmulator:
    """A started emulator: where it listens, what it was told, what it has seen."""

    def __init__(
        self,
        state: EmulatorState,
        server: uvicorn.Server,
        sock: socket.socket,
        recorder: HarRecorder | None = None,
    ) -> None:
        self._state = state
        self._server = server
        self._socket = sock
        self._recorder = recorder
        self._thread: threading.Thread | None = None
        host, self.port = sock.getsockname()[:2]
        self.base_url = (
            f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"
        )
        state.public_base_url = self.base_url
        self._env = build_env(state, self.base_url)

    @property
    def config(self) -> EmulatorConfig:
        """The config in use, with the random secrets it was given filled in."""
        return self._state.config

    def env(self) -> dict[str, str]:
        """The SAGE200_* settings for this scenario, with tokens minted by this emulator."""
        return dict(self._env)

    @property
    def request_log(self) -> list[LoggedRequest]:
        return self._state.request_log()

    @property
    def recording(self) -> Path | None:
        """The HAR file being written (`record=`), complete once the emulator stopped."""
        return self._recorder.path if self._recorder else None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name=f"sage200-emulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the emulator did not start on {self.base_url}")
            time.sleep(0.002)

    def stop(self) -> None:
        """Stop serving, join the server thread, finish the recording; safe to call twice."""
        self._server.should_exit = True
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=_START_TIMEOUT_S)
        self._socket.close()
        if self._recorder is not None:
            self._recorder.close()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on accepted sockets whose protocol
    # says TCP, and without it every keep-alive response waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _prepare(
    config_or_scenario: EmulatorConfig | str,
    host: str,
    port: int,
    latency_ms: int,
    record: Path | None = None,
) -> RunningEmulator:
    config = (
        scenario_config(config_or_scenario)
        if isinstance(config_or_scenario, str)
        else config_or_scenario
    )
    sock = _bind(host, port)
    recorder = None
    try:
        recorder = HarRecorder(Path(record)) if record is not None else None
        app = create_app(config, latency_ms=latency_ms, recorder=recorder)
        server_config = uvicorn.Config(
            app,
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            ws="none",
            date_header=False,  # the app dates its answers by the services' clock (clock.py)
        )
        return RunningEmulator(app.state.emulator, _QuickServer(server_config), sock, recorder)
    except BaseException:
        sock.close()
        if recorder is not None:
            recorder.close()
        raise


@contextlib.contextmanager
def running_emulator(
    config_or_scenario: EmulatorConfig | str,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    latency_ms: int = 0,
    record: Path | None = None,
) -> Iterator[RunningEmulator]:
    """Serve an emulator in a background thread for the duration of the `with` block.

    With `record`, every exchange is written to that file as HAR 1.2 (complete on exit).
    """
    emulator = _prepare(config_or_scenario, host, port, latency_ms, record)
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()


def serve_forever(
    config: EmulatorConfig | str,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    latency_ms: int = 0,
    on_ready: Callable[[RunningEmulator], None],
    record: Path | None = None,
) -> None:
    """Serve until Ctrl+C or SIGTERM (for `sage200-doctor emulate`); `on_ready` runs first.

    With `record`, the HAR file is completed on either way of stopping.
    """
    stop = threading.Event()
    previous = _on_sigterm(stop)
    try:
        with running_emulator(
            config, host=host, port=port, latency_ms=latency_ms, record=record
        ) as emulator:
            on_ready(emulator)
            with contextlib.suppress(KeyboardInterrupt):
                while not stop.wait(0.2):
                    pass
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


_Handler = Callable[[int, FrameType | None], object] | int | None


def _on_sigterm(stop: threading.Event) -> _Handler:
    """Turn SIGTERM into a clean stop; only the main thread may install signal handlers."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
