"""Network faults become named findings on network.* with guide.network, never tracebacks."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.conftest import CliRun
from tests.e2e.faulty_servers import (
    free_port,
    make_certificates,
    raw_server,
    reset_mid_body,
    stay_silent,
    tls_server,
)

pytestmark = pytest.mark.e2e


def _env_file(tmp_path: Path, origin: str, **extra: str) -> Path:
    lines = {
        "SAGE200_EDITION": "standard",
        "SAGE200_API_BASE_URL": f"{origin}/uk/sage200/accounts/v1/",
        "SAGE200_TOKEN_URL": f"{origin}/oauth/token",
        "SAGE200_AUTH_URL": f"{origin}/authorize",
        "SAGE200_ACCESS_TOKEN": "not-a-real-token-but-long-enough",
        "SAGE200_TIMEOUT_S": "5",
        **extra,
    }
    path = tmp_path / "site.env"
    path.write_text("".join(f"{key}={value}\n" for key, value in lines.items()), encoding="utf-8")
    return path


def _run(doctor: Callable[..., CliRun], env_file: Path, **env: str) -> CliRun:
    run = doctor("run", "--env", str(env_file), env=env or None)
    assert "Traceback" not in run.stdout + run.stderr
    return run


def _assert_unreachable(run: CliRun, kind: str) -> None:
    assert run.code == 3, run.stdout
    assert run.report["verdict"] == "unreachable"
    root = run.check(run.report["root_cause"]["check"])
    assert root["id"].startswith("network.")
    assert f"kind: {kind}" in root["details"]
    assert [g["id"] for g in root["guidance"]] == ["guide.network"]


@pytest.mark.parametrize(
    ("expired", "host_ip", "trusted", "kind"),
    [
        (False, True, False, "tls-untrusted"),
        (True, True, True, "tls-expired"),
        (False, False, True, "tls-hostname"),
    ],
)
def test_tls_problems_are_named(
    tmp_path: Path,
    doctor: Callable[..., CliRun],
    expired: bool,
    host_ip: bool,
    trusted: bool,
    kind: str,
) -> None:
    certificates = make_certificates(tmp_path, expired=expired, host_ip=host_ip)
    with tls_server(certificates) as port:
        extra = {"SAGE200_CA_BUNDLE": str(certificates.ca_file)} if trusted else {}
        run = _run(doctor, _env_file(tmp_path, f"https://127.0.0.1:{port}", **extra))
    _assert_unreachable(run, kind)


def test_a_ca_bundle_makes_an_inspecting_proxys_certificate_trusted(
    tmp_path: Path, doctor: Callable[..., CliRun]
) -> None:
    certificates = make_certificates(tmp_path)
    with tls_server(certificates) as port:
        run = _run(
            doctor,
            _env_file(
                tmp_path, f"https://127.0.0.1:{port}", SAGE200_CA_BUNDLE=str(certificates.ca_file)
            ),
        )
    assert run.check("network.identity")["outcome"] == "passed"
    assert run.check("network.api")["outcome"] == "passed"


def test_connection_refused(tmp_path: Path, doctor: Callable[..., CliRun]) -> None:
    _assert_unreachable(
        _run(doctor, _env_file(tmp_path, f"http://127.0.0.1:{free_port()}")), "refused"
    )


def test_a_server_that_never_answers_times_out(
    tmp_path: Path, doctor: Callable[..., CliRun]
) -> None:
    with raw_server(stay_silent) as port:
        run = _run(doctor, _env_file(tmp_path, f"http://127.0.0.1:{port}", SAGE200_TIMEOUT_S="1"))
    _assert_unreachable(run, "read-timeout")


def test_a_connection_reset_mid_answer(tmp_path: Path, doctor: Callable[..., CliRun]) -> None:
    with raw_server(reset_mid_body) as port:
        run = _run(doctor, _env_file(tmp_path, f"http://127.0.0.1:{port}"))
    _assert_unreachable(run, "reset")


def test_a_proxy_that_refuses_the_tunnel(tmp_path: Path, doctor: Callable[..., CliRun]) -> None:
    def refuse_connect(connection: socket.socket) -> None:
        try:
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
        finally:
            connection.close()

    with raw_server(refuse_connect) as proxy_port:
        env_file = _env_file(tmp_path, "https://sage200.invalid")
        run = _run(doctor, env_file, HTTPS_PROXY=f"http://127.0.0.1:{proxy_port}")
    _assert_unreachable(run, "proxy")


def test_a_dead_proxy_is_named_as_the_proxy(tmp_path: Path, doctor: Callable[..., CliRun]) -> None:
    env_file = _env_file(tmp_path, "https://sage200.invalid")
    run = _run(doctor, env_file, HTTPS_PROXY=f"http://127.0.0.1:{free_port()}")
    _assert_unreachable(run, "proxy")
