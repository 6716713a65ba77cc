"""`sage200-doctor login` against the emulator's real sign-in and consent page, with no human.

The "browser" is an opener that drives the page over HTTP with httpx: GET the authorize URL,
submit the form with the seeded user and Allow (or Deny), and follow the 302 to the loopback
callback. Every emulator and socket a test starts is stopped by the test.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit, urlunsplit

import httpx
import pytest
from dotenv import dotenv_values

from sage200_doctor import login
from sage200_doctor.emulator import (
    EmulatorConfig,
    RunningEmulator,
    format_env_lines,
    running_emulator,
    scenario_config,
)
from tests.e2e.conftest import cli_environment

pytestmark = pytest.mark.e2e

USERNAME = "api.user@example.com"
PASSWORD = "sage200-demo"
TOKEN_KEYS = ("SAGE200_ACCESS_TOKEN", "SAGE200_REFRESH_TOKEN")


@pytest.fixture(autouse=True)
def _only_the_env_file_speaks(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in [key for key in os.environ if key.startswith("SAGE200_")]:
        monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# --- a browser that is not one ------------------------------------------------------------------


class _Form(HTMLParser):
    """The consent form's action and fields."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.action = values.get("action")
        elif tag == "input" and "name" in values:
            self.fields[values["name"]] = values.get("value", "")


@dataclasses.dataclass
class Driver:
    """An opener that signs in over HTTP; remembers what it saw for the assertions."""

    decision: str = "allow"
    tamper_state: bool = False
    visited: list[str] = dataclasses.field(default_factory=list)
    code: str | None = None
    callback_page: str | None = None

    def __call__(self, url: str) -> bool:
        self.visited.append(url)
        with httpx.Client(timeout=10) as browser:
            page = browser.get(url)
            assert page.status_code == 200, page.text
            form = _Form()
            form.feed(page.text)
            assert form.action is not None
            fields = {**form.fields, "username": USERNAME, "password": PASSWORD}
            fields["decision"] = self.decision
            decided = browser.post(urljoin(str(page.url), form.action), data=fields)
            assert decided.status_code == 302, decided.text
            location = decided.headers["location"]
            assert location.startswith("http://127.0.0.1:")
            self.code = parse_qs(urlsplit(location).query).get("code", [None])[0]
            if self.tamper_state:
                location = _with_state(location, "forged-by-someone-else")
            self.callback_page = browser.get(location).text
        return True


def _with_state(url: str, state: str) -> str:
    parts = urlsplit(url)
    query = dict(pair.split("=", 1) for pair in parts.query.split("&"))
    query["state"] = state
    return urlunsplit(parts._replace(query=urlencode(query)))


# --- set-up -------------------------------------------------------------------------------------


@dataclasses.dataclass
class Setup:
    emulator: RunningEmulator
    env_file: Path
    redirect_uri: str

    def tokens(self) -> dict[str, str | None]:
        values = dotenv_values(self.env_file)
        return {key: values.get(key) for key in TOKEN_KEYS}

    def secrets(self) -> list[str]:
        secret = self.emulator.config.client_secret
        assert secret is not None
        return [secret, *(value for value in self.tokens().values() if value)]

    def token_posts(self) -> int:
        return sum(
            1
            for entry in self.emulator.request_log
            if (entry.method, entry.path) == ("POST", "/oauth/token")
        )


@pytest.fixture
def emulated(tmp_path: Path) -> Iterator[Callable[..., Setup]]:
    """Start an emulator whose registered redirect URI is on a free port, and write an env file
    that points at it, without tokens (login is what gets them)."""
    stack = contextlib.ExitStack()

    def start(
        *,
        registered: tuple[str, ...] | None = None,
        env: dict[str, str] | None = None,
        **config: object,
    ) -> Setup:
        redirect_uri = f"http://127.0.0.1:{free_port()}/callback"
        base: EmulatorConfig = dataclasses.replace(
            scenario_config("healthy"),
            redirect_uris=registered or (redirect_uri,),
            **config,  # type: ignore[arg-type]
        )
        emulator = stack.enter_context(running_emulator(base))
        values = {k: v for k, v in emulator.env().items() if k not in TOKEN_KEYS}
        values["SAGE200_REDIRECT_URI"] = redirect_uri
        values.update(env or {})
        env_file = tmp_path / "sage200.env"
        env_file.write_text(format_env_lines(values), encoding="utf-8")
        env_file.chmod(0o600)
        return Setup(emulator, env_file, redirect_uri)

    with stack:
        yield start


def _login(setup: Setup, opener: Callable[[str], bool], *, timeout_s: float = 10.0) -> int:
    return login.command(
        setup.env_file, no_browser=False, timeout_s=timeout_s, port=None, opener=opener
    )


def _assert_nothing_secret(output: str, setup: Setup, *more: str) -> None:
    for value in [*setup.secrets(), *more]:
        assert value not in output


# --- signing in ---------------------------------------------------------------------------------


def test_login_signs_in_saves_the_tokens_and_the_run_then_passes(
    emulated: Callable[..., Setup],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[login.Pkce] = []
    new_pkce = login.Pkce.new

    def recording_pkce() -> login.Pkce:
        made.append(new_pkce())
        return made[-1]

    monkeypatch.setattr(login.Pkce, "new", recording_pkce)
    setup = emulated()
    driver = Driver()
    before = setup.env_file.read_text(encoding="utf-8")

    assert _login(setup, driver) == 0

    out, err = capsys.readouterr()
    tokens = setup.tokens()
    assert tokens["SAGE200_ACCESS_TOKEN"]
    assert tokens["SAGE200_REFRESH_TOKEN"]
    assert stat.S_IMODE(setup.env_file.stat().st_mode) == 0o600
    assert (tmp_path / "sage200.env.bak").read_text(encoding="utf-8") == before
    assert "scopes:        openid profile email offline_access" in out
    assert "refresh token: yes" in out
    assert "expires in 60 min" in out
    assert f"Next: sage200-doctor run --env {setup.env_file}" in out
    assert "close this tab" in (driver.callback_page or "")
    sent = dict(pair.split("=", 1) for pair in urlsplit(driver.visited[0]).query.split("&"))
    assert sent["code_challenge_method"] == "S256"
    assert sent["audience"] == "s200ukipd%2Fsage200"
    assert "offline_access" in sent["scope"]
    assert driver.code is not None
    _assert_nothing_secret(out + err, setup, driver.code, made[0].verifier)

    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "sage200_doctor",
            "run",
            "--env",
            str(setup.env_file),
            "--report-dir",
            str(tmp_path / "reports"),
        ],
        cwd=tmp_path,
        env=cli_environment(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_login_with_body_client_authentication(
    emulated: Callable[..., Setup], capsys: pytest.CaptureFixture[str]
) -> None:
    setup = emulated(
        env={"SAGE200_CLIENT_AUTH": "body"}, client_auth_methods=("client_secret_post",)
    )
    assert _login(setup, Driver()) == 0
    assert setup.tokens()["SAGE200_REFRESH_TOKEN"]
    _assert_nothing_secret("".join(capsys.readouterr()), setup)


def test_login_creates_a_missing_env_file_with_mode_0600(
    emulated: Callable[..., Setup], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    setup = emulated()
    for key, value in dotenv_values(setup.env_file).items():
        monkeypatch.setenv(key, value or "")
    new_file = tmp_path / "new" / ".env"
    new_file.parent.mkdir()
    assert login.command(new_file, no_browser=False, timeout_s=10, port=None, opener=Driver()) == 0
    assert stat.S_IMODE(new_file.stat().st_mode) == 0o600
    assert set(dotenv_values(new_file)) == set(TOKEN_KEYS)
    assert not (tmp_path / "new" / ".env.bak").exists()


def test_a_scope_without_offline_access_says_why_there_is_no_refresh_token(
    emulated: Callable[..., Setup], capsys: pytest.CaptureFixture[str]
) -> None:
    setup = emulated(
        env={"SAGE200_SCOPE": "openid profile email", "SAGE200_REFRESH_TOKEN": "old-refresh-token"}
    )
    assert _login(setup, Driver()) == 0
    out = capsys.readouterr().out
    assert "offline_access was missing from the scope" in out
    assert "removed" in out
    assert setup.tokens()["SAGE200_REFRESH_TOKEN"] == ""
    assert "old-refresh-token" in setup.env_file.with_name("sage200.env.bak").read_text()
    assert "old-refresh-token" not in out


# --- failures -----------------------------------------------------------------------------------


def _failed(capsys: pytest.CaptureFixture[str], setup: Setup) -> str:
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    _assert_nothing_secret(out + err, setup)
    assert setup.tokens() == {"SAGE200_ACCESS_TOKEN": None, "SAGE200_REFRESH_TOKEN": None}
    return err


def test_deny_on_the_consent_page_is_access_denied(
    emulated: Callable[..., Setup], capsys: pytest.CaptureFixture[str]
) -> None:
    setup = emulated()
    driver = Driver(decision="deny")
    assert _login(setup, driver) == 1
    err = _failed(capsys, setup)
    assert "Consent was refused" in err
    assert "access_denied" in err
    assert "did not complete" in (driver.callback_page or "")
    assert setup.token_posts() == 0


def test_an_unregistered_redirect_uri_is_found_before_the_browser_opens(
    emulated: Callable[..., Setup], capsys: pytest.CaptureFixture[str]
) -> None:
    setup = emulated(registered=("https://app.example.com/callback",))
    driver = Driver()
    assert _login(setup, driver) == 1
    err = _failed(capsys, setup)
    assert driver.visited == []
    assert "Callback URL mismatch" in err
    assert f"register exactly {setup.redirect_uri}" in err


def test_a_wrong_client_secret_is_invalid_client_at_the_code_exchange(
    emulated: Callable[..., Setup], capsys: pytest.CaptureFixture[str]
) -> None:
    setup = emulated(env={"SAGE200_CLIENT_SECRET": "not-the-right-secret-at-all"})
    assert _login(setup, Driver()) == 1
    err = _failed(capsys, setup)
    assert "invalid_client" in err
    assert "SAGE200_CLIENT_SECRET" in err
    assert "not-the-right-secret-at-all" not in err
    assert setup.token_posts() == 1


def test_no_sign_in_within_the_timeout_names_the_usual_cause(
    emulated: Callable[..., Setup], capsys: pytest.CaptureFixture[str]
) -> None:
    setup = emulated()
    assert _login(setup, lambda url: True, timeout_s=0.3) == 1
    err = _failed(capsys, setup)
    assert f"No sign-in came back to {setup.redirect_uri} within 0.3 s" in err
    assert "redirect URI that is not registered" in err


def test_a_port_already_in_use_is_named_with_how_to_pick_another(
    emulated: Callable[..., Setup], capsys: pytest.CaptureFixture[str]
) -> None:
    setup = emulated()
    port = urlsplit(setup.redirect_uri).port
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port or 0))
        holder.listen()
        driver = Driver()
        assert _login(setup, driver) == 1
    err = _failed(capsys, setup)
    assert f"Port {port} on 127.0.0.1 is already in use" in err
    assert "--port N" in err
    assert driver.visited == []


def test_a_callback_with_a_foreign_state_is_not_exchanged(
    emulated: Callable[..., Setup], capsys: pytest.CaptureFixture[str]
) -> None:
    setup = emulated()
    assert _login(setup, Driver(tamper_state=True)) == 1
    err = _failed(capsys, setup)
    assert "state does not match" in err
    assert setup.token_posts() == 0
