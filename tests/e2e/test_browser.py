"""report.html in headless Chromium: it renders, leads with the root cause and its guidance link,
keeps evidence collapsed, runs no injected script and logs no console error.

Chromium is driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`), with the
standard library only: no Playwright, no browser download. Install it with
`apt-get install -y chromium` (or point CHROMIUM at another Chrome or Chromium binary).
Set UPDATE_SCREENSHOTS=1 to refresh docs/screenshots/.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shlex
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_reports import ScenarioRun, run_doctor, scenario_run

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
"""Debian's chromium by default; CHROMIUM=/path/to/chrome for another Chromium build."""
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--disable-dev-shm-usage",  # containers give /dev/shm 64 MB
    "--remote-debugging-pipe",
)
INJECTED = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists() and os.environ.get("CI", "").lower() not in ("1", "true"),
        reason=f"headless Chromium is not installed at {CHROMIUM} (apt-get install -y chromium); "
        "in CI (CI=true) this test always runs",
    ),
]


class Browser:
    """A minimal DevTools-protocol client over Chromium's debugging pipe (fd 3 in, fd 4 out)."""

    def __init__(self, profile: Path) -> None:
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        argv = [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", "about:blank"]
        command = " ".join(shlex.quote(part) for part in argv)
        self._process = subprocess.Popen(
            ["bash", "-c", f"exec {command} 3<&{to_browser_r} 4>&{from_browser_w}"],
            pass_fds=(to_browser_r, from_browser_w),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.send("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable", session=self.session)

    def send(self, method: str, *, session: str | None = None, **params: Any) -> Any:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read(timeout=30)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, event: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == event for e in self.events):
            self.events.append(self._read(timeout=max(0.1, deadline - time.monotonic())))

    def _read(self, *, timeout: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._from_browser], [], [], timeout)
            if not ready:
                raise TimeoutError("Chromium did not answer")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the debugging pipe")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        parsed: dict[str, Any] = json.loads(message)
        return parsed

    def open(self, path: Path, *, width: int = 1280) -> None:
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=900,
            deviceScaleFactor=1,
            mobile=False,
        )
        self.events.clear()
        self.call("Page.navigate", url=path.resolve().as_uri())
        self.wait_for("Page.loadEventFired")

    def call(self, method: str, **params: Any) -> Any:
        return self.send(method, session=self.session, **params)

    def evaluate(self, expression: str) -> Any:
        result = self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise AssertionError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path: Path, *, width: int = 1280) -> None:
        height = int(self.evaluate("document.documentElement.scrollHeight"))
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        shot = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.write_bytes(base64.b64decode(shot["data"]))

    def problems(self) -> list[str]:
        """Console errors and warnings, uncaught exceptions, and requests that left the file."""
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                found.append(f"exception: {params['exceptionDetails'].get('text')}")
            elif method == "Runtime.consoleAPICalled" and params.get("type") in (
                "error",
                "warning",
                "assert",
            ):
                found.append(f"console.{params['type']}: {params.get('args')}")
            elif method == "Log.entryAdded" and params["entry"]["level"] in ("error", "warning"):
                found.append(f"log: {params['entry'].get('text')}")
            elif method == "Network.requestWillBeSent":
                url = params["request"]["url"]
                if not url.startswith(("file:", "data:", "about:")):
                    found.append(f"external request: {url}")
        return found

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, TimeoutError, OSError):
            self.send("Browser.close")
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    profile = tmp_path_factory.mktemp("chromium-profile")
    chromium = Browser(profile)
    try:
        yield chromium
    finally:
        chromium.close()


PAGE_FACTS = """(() => {
  const visible = (el) => !!el && el.getClientRects().length > 0
    && getComputedStyle(el).visibility !== 'hidden';
  const root = document.getElementById('s2d-root-cause');
  const link = root && root.querySelector('a[href^="https://"]');
  const rows = [...document.querySelectorAll('#results-table > tbody.results-table-row')];
  return {
    title: document.title,
    verdict: document.querySelector('.s2d-verdict-word')?.textContent,
    rootVisible: visible(root),
    rootTop: root ? root.getBoundingClientRect().top : null,
    tableTop: document.getElementById('results-table')?.getBoundingClientRect().top,
    rootText: root ? root.textContent : '',
    guidanceLink: link ? link.href : null,
    guidanceLinkVisible: visible(link),
    rowIds: rows.map((row) => row.id),
    outcomes: rows.map((row) => row.querySelector('.s2d-badge')?.textContent),
    openDetails: document.querySelectorAll('details[open]').length,
    exchanges: document.querySelectorAll('details.s2d-exchange').length,
    environment: [...document.querySelectorAll('#environment td:first-child')].map((td) => td.textContent),
    pwned: window.__pwned ?? null,
    externalAssets: [...document.querySelectorAll('link[href], script[src], img[src]')]
      .map((el) => el.getAttribute('href') || el.getAttribute('src'))
      .filter((src) => src && !src.startsWith('data:')),
  };
})()"""


def page_facts(browser: Browser, run: ScenarioRun) -> dict[str, Any]:
    browser.open(run.report_dir / "report.html")
    facts: dict[str, Any] = browser.evaluate(PAGE_FACTS)
    assert browser.problems() == []
    return facts


def save_screenshot(browser: Browser, run: ScenarioRun, name: str, tmp_path: Path) -> Path:
    shot = tmp_path / name
    browser.screenshot(shot)
    assert shot.stat().st_size > 10_000
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, SCREENSHOTS / name)
    return shot


def test_failing_report_leads_with_root_cause_and_guidance(browser: Browser) -> None:
    run = scenario_run("no-offline-access")
    facts = page_facts(browser, run)
    assert facts["verdict"] == "FAIL"
    assert facts["rootVisible"]
    assert facts["guidanceLinkVisible"]
    assert facts["rootTop"] < facts["tableTop"]  # the root cause comes first
    assert "token.scope" in facts["rootText"]
    assert "Next step" in facts["rootText"]
    assert facts["guidanceLink"] == "https://developer.sage.com/200/guides/postman/"
    assert facts["rowIds"] == [c["id"] for c in run.report["checks"]]  # run order
    assert "failed" in facts["outcomes"]
    assert facts["openDetails"] == 0
    assert facts["exchanges"] > 0
    assert facts["externalAssets"] == []
    assert "X-Site" in facts["environment"]


def test_healthy_report_says_pass(browser: Browser, tmp_path: Path) -> None:
    run = scenario_run("healthy")
    facts = page_facts(browser, run)
    assert facts["verdict"] == "PASS"
    assert "No root cause" in facts["rootText"]
    assert set(facts["outcomes"]) <= {"passed", "skipped"}
    save_screenshot(browser, run, "report-healthy.png", tmp_path)


def test_blocked_rows_name_their_blocker(browser: Browser, tmp_path: Path) -> None:
    run = scenario_run("key-missing")
    facts = page_facts(browser, run)
    assert facts["outcomes"].count("blocked") == 8
    finding = browser.evaluate(
        "document.getElementById('header.authorization').querySelector('.col-finding').innerText"
    )
    assert "blocked by gateway.subscription_key" in finding
    assert "8 later check(s) did not run because of it" in facts["rootText"]
    save_screenshot(browser, run, "report-failing.png", tmp_path)


class HostileHandler(BaseHTTPRequestHandler):
    """Every URL answers 502 with markup that would run if the report did not escape it."""

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        body = f"<html><body>Bad gateway {INJECTED}</body></html>".encode()
        self.send_response(502)
        self.send_header("Content-Type", "text/html")
        self.send_header("X-Injected", INJECTED.replace("\n", " "))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def hostile_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), HostileHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_server_markup_is_shown_as_text_never_run(
    browser: Browser, hostile_server: str, tmp_path: Path
) -> None:
    env = {
        "SAGE200_EDITION": "professional",
        "SAGE200_API_BASE_URL": f"{hostile_server}/uk/sage200extra/accounts/v1/",
        "SAGE200_TOKEN_URL": f"{hostile_server}/oauth/token",
        "SAGE200_AUTH_URL": f"{hostile_server}/authorize",
        "SAGE200_ACCESS_TOKEN": "hostile-test-access-token-0123456789",
        "SAGE200_SUBSCRIPTION_KEY": "hostile0subscription0key0123",
    }
    run = run_doctor(env, tmp_path / "hostile")
    raw = (run.report_dir / "report.html").read_text(encoding="utf-8")
    assert "<script>window.__pwned" not in raw
    browser.open(run.report_dir / "report.html")
    shown = browser.evaluate(
        "(() => { document.getElementById('show_all_details').click();"
        " document.querySelectorAll('details').forEach((d) => d.open = true);"
        " return document.body.innerText; })()"
    )
    assert browser.evaluate("window.__pwned ?? null") is None
    assert "<script>window.__pwned = 1</script>" in shown  # visible, as text
    assert browser.problems() == []
