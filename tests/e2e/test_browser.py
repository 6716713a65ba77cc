"""report.html in headless Chromium, on a phone (390 px) and a desktop (1280 px), with and
without JavaScript: it leads with the verdict and the root cause, everything (every check, its
evidence, the environment) is there without JavaScript, nothing is wider than a phone, the text
is readable, the filters and "expand all" work, blocked checks are called blocked, no request
leaves the file, injected server markup never runs and the console stays clean.

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

from sage200_doctor.emulator import running_emulator
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
PHONE, DESKTOP = 390, 1280
PHONE_HEIGHT = 844
NONE = "\N{EN DASH}"  # an empty cell of the coverage matrix
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
        self.width = DESKTOP
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

    def open(self, path: Path, *, width: int = DESKTOP, scripts: bool = True) -> None:
        """Load `path` at `width` CSS pixels (a phone below 720: mobile viewport rules apply),
        with or without JavaScript."""
        self.width = width
        self.call("Emulation.setScriptExecutionDisabled", value=not scripts)
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=PHONE_HEIGHT if width < 720 else 900,
            deviceScaleFactor=1,
            mobile=width < 720,
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

    def screenshot(self, path: Path, *, clip: dict[str, float] | None = None) -> None:
        """The whole page (or `clip`, in page coordinates) at the width it was opened with."""
        height = int(self.evaluate("document.documentElement.scrollHeight"))
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=self.width,
            height=height,
            deviceScaleFactor=1,
            mobile=self.width < 720,
        )
        options: dict[str, Any] = {"format": "png", "captureBeyondViewport": True}
        if clip is not None:
            options["clip"] = {**clip, "scale": 1}
        shot = self.call("Page.captureScreenshot", **options)
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
  const size = (el) => el ? parseFloat(getComputedStyle(el).fontSize) : null;
  const root = document.getElementById('s2d-root-cause');
  const link = root && root.querySelector('a[href^="https://"]');
  const rows = [...document.querySelectorAll('table.s2d-checks > tbody.s2d-check')];
  const filters = document.getElementById('s2d-filters');
  return {
    title: document.title,
    verdict: document.querySelector('.s2d-verdict-word')?.textContent,
    bannerVisible: visible(document.getElementById('s2d-verdict')),
    rootVisible: visible(root),
    rootTop: root ? root.getBoundingClientRect().top : null,
    tableTop: document.getElementById('s2d-checks-table')?.getBoundingClientRect().top,
    rootText: root ? root.textContent : '',
    guidanceLink: link ? link.href : null,
    guidanceLinkVisible: visible(link),
    rowIds: rows.map((row) => row.id),
    rowsVisible: rows.filter(visible).length,
    outcomes: rows.map((row) => row.querySelector('.col-outcome .s2d-badge')?.textContent),
    findings: rows.map((row) => row.querySelector('.col-finding')?.textContent),
    exchangesPerRow: rows.map((row) => row.querySelectorAll('details.s2d-exchange').length),
    openPanels: [...document.querySelectorAll('details.s2d-more[open]')]
      .map((d) => d.closest('tbody').id),
    openExchanges: document.querySelectorAll('details.s2d-exchange[open]').length,
    environment: [...document.querySelectorAll('table#environment th')].map((th) => th.textContent),
    filtersShown: !!filters && !filters.hidden && visible(filters),
    filterLabels: filters ? [...filters.querySelectorAll('button[data-outcome]')]
      .map((b) => [b.dataset.outcome, b.textContent]) : [],
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    bodyFontSize: size(document.body),
    leadFontSize: size(document.querySelector('.s2d-lead, #s2d-root-cause h3')),
    findingFontSize: size(document.querySelector('td.col-finding')),
    findingFont: getComputedStyle(document.querySelector('td.col-finding')).fontFamily,
    pwned: window.__pwned ?? null,
    externalAssets: [...document.querySelectorAll('link[href], script[src], img[src]')]
      .map((el) => el.getAttribute('href') || el.getAttribute('src'))
      .filter((src) => src && !src.startsWith('data:')),
  };
})()"""

VIEWS = [
    pytest.param(PHONE, False, id="phone-no-js"),
    pytest.param(PHONE, True, id="phone-js"),
    pytest.param(DESKTOP, False, id="desktop-no-js"),
    pytest.param(DESKTOP, True, id="desktop-js"),
]


def page_facts(
    browser: Browser, run: ScenarioRun, *, width: int = DESKTOP, scripts: bool = True
) -> dict[str, Any]:
    browser.open(run.report_dir / "report.html", width=width, scripts=scripts)
    facts: dict[str, Any] = browser.evaluate(PAGE_FACTS)
    assert browser.problems() == []  # no console error or warning, no request left the file
    assert facts["externalAssets"] == []
    return facts


def save_screenshot(
    browser: Browser, name: str, tmp_path: Path, *, clip: dict[str, float] | None = None
) -> Path:
    shot = tmp_path / name
    browser.screenshot(shot, clip=clip)
    assert shot.stat().st_size > 10_000
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, SCREENSHOTS / name)
    return shot


def click(browser: Browser, selector: str) -> None:
    browser.evaluate(f"document.querySelector({json.dumps(selector)}).click()")


def visible_rows(browser: Browser) -> list[str]:
    return list(
        browser.evaluate(
            "[...document.querySelectorAll('tbody.s2d-check')]"
            ".filter((g) => g.getClientRects().length > 0).map((g) => g.id)"
        )
    )


# --- on every screen, with and without JavaScript ----------------------------------------------


@pytest.mark.parametrize(("width", "scripts"), VIEWS)
def test_everything_is_there_and_fits_the_screen(
    browser: Browser, width: int, scripts: bool
) -> None:
    run = scenario_run("key-missing")
    report = run.report
    facts = page_facts(browser, run, width=width, scripts=scripts)
    assert facts["verdict"] == "FAIL"
    assert facts["bannerVisible"]
    assert facts["rootVisible"]
    assert "gateway.subscription_key" in facts["rootText"]
    assert facts["rootTop"] < facts["tableTop"]  # the root cause comes first
    assert facts["rowIds"] == [c["id"] for c in report["checks"]]  # every check, in run order
    assert facts["rowsVisible"] == len(report["checks"])
    assert facts["exchangesPerRow"] == [len(c["evidence"]) for c in report["checks"]]
    assert facts["openPanels"] == ["gateway.subscription_key"]  # the root cause's, no other
    assert facts["openExchanges"] == 0  # evidence stays collapsed
    assert {"Edition", "API base URL", "X-Site", "X-Company"} <= set(facts["environment"])
    assert facts["filtersShown"] is scripts  # buttons only where they work
    assert facts["scrollWidth"] <= facts["innerWidth"], "wider than the screen"
    assert "monospace" not in facts["findingFont"]  # findings read as sentences, not code
    if width == PHONE:
        assert facts["bodyFontSize"] >= 14
        assert facts["leadFontSize"] >= 14
        assert facts["findingFontSize"] >= 14


@pytest.mark.parametrize("width", [PHONE, DESKTOP])
def test_the_evidence_opens_without_javascript(browser: Browser, width: int) -> None:
    run = scenario_run("no-offline-access")
    check_id = next(c["id"] for c in run.report["checks"] if c["evidence"])
    page_facts(browser, run, width=width, scripts=False)
    row = f"document.getElementById({json.dumps(check_id)})"
    browser.evaluate(f"{row}.querySelector('details.s2d-more > summary').click()")
    browser.evaluate(f"{row}.querySelector('details.s2d-exchange > summary').click()")
    shown = browser.evaluate(
        f"(() => {{ const d = {row}.querySelector('details.s2d-exchange');"
        " return [d.open, d.querySelector('.s2d-exchange-body').getClientRects().length > 0,"
        " d.querySelector('.s2d-exchange-body').innerText]; })()"
    )
    assert shown[:2] == [True, True]
    assert "Request headers" in shown[2]
    fits = browser.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert fits, "an opened exchange is wider than the screen"


# --- what JavaScript adds ----------------------------------------------------------------------


def test_filters_show_one_outcome_and_expand_all_opens_every_panel(browser: Browser) -> None:
    run = scenario_run("key-missing")
    checks = run.report["checks"]
    page_facts(browser, run)
    click(browser, "#s2d-filters button[data-outcome='blocked']")
    assert visible_rows(browser) == [c["id"] for c in checks if c["outcome"] == "blocked"]
    pressed = browser.evaluate(
        "[...document.querySelectorAll('#s2d-filters button[aria-pressed=true]')]"
        ".map((b) => b.dataset.outcome)"
    )
    assert pressed == ["blocked"]
    click(browser, "#s2d-filters button[data-outcome='all']")
    assert visible_rows(browser) == [c["id"] for c in checks]
    click(browser, "#s2d-expand")
    assert browser.evaluate(
        "[...document.querySelectorAll('details.s2d-more')].every((d) => d.open)"
    )
    assert browser.evaluate("document.getElementById('s2d-expand').textContent") == "Collapse all"
    click(browser, "#s2d-expand")
    assert browser.evaluate("document.querySelectorAll('details.s2d-more[open]').length") == 0
    assert browser.problems() == []


def test_blocked_is_never_called_skipped(browser: Browser, tmp_path: Path) -> None:
    """A run with both: the refresh token left out (token.refresh skipped) and the gateway key
    missing (the checks after it blocked)."""
    with running_emulator("key-missing") as emulator:
        env = emulator.env()
        env.pop("SAGE200_REFRESH_TOKEN")
        env["SAGE200_ACCESS_TOKEN"] = "not-a-jwt-but-enough-to-start"
        run = run_doctor(env, tmp_path / "mixed")
    outcomes = {c["id"]: c["outcome"] for c in run.report["checks"]}
    blocked = [i for i, o in outcomes.items() if o == "blocked"]
    skipped = [i for i, o in outcomes.items() if o == "skipped"]
    assert blocked
    assert skipped
    facts = page_facts(browser, run)
    labels = dict(facts["filterLabels"])
    assert labels["blocked"] == f"{len(blocked)} blocked"
    assert labels["skipped"] == f"{len(skipped)} skipped"
    for check_id, outcome, finding in zip(
        facts["rowIds"], facts["outcomes"], facts["findings"], strict=True
    ):
        if check_id in blocked:
            assert outcome == "blocked"
            assert finding.startswith("blocked by ")
            assert "skip" not in finding.lower()
    click(browser, "#s2d-filters button[data-outcome='skipped']")
    assert visible_rows(browser) == skipped
    click(browser, "#s2d-filters button[data-outcome='blocked']")
    assert visible_rows(browser) == blocked
    chips = browser.evaluate(
        "[...document.querySelectorAll('.s2d-chip')].map((c) => c.textContent)"
    )
    assert f"{len(blocked)} blocked" in chips


# --- screenshots (docs/screenshots/) and what each scenario leads with -------------------------


def test_failing_report_leads_with_root_cause_and_guidance(
    browser: Browser, tmp_path: Path
) -> None:
    run = scenario_run("key-missing")
    facts = page_facts(browser, run)
    assert facts["guidanceLinkVisible"]
    assert facts["guidanceLink"] == "https://developer.sage.com/200/guides/postman/"
    assert "Next step" in facts["rootText"]
    assert "8 later check(s) could not run because of it" in facts["rootText"]
    finding = browser.evaluate(
        "document.getElementById('header.authorization').querySelector('.col-finding').innerText"
    )
    assert finding == "blocked by gateway.subscription_key"
    save_screenshot(browser, "report-failing.png", tmp_path)
    page_facts(browser, run, width=PHONE)
    save_screenshot(browser, "report-failing-phone.png", tmp_path)


def test_healthy_report_says_pass(browser: Browser, tmp_path: Path) -> None:
    run = scenario_run("healthy")
    facts = page_facts(browser, run)
    assert facts["verdict"] == "PASS"
    assert "No root cause" in facts["rootText"]
    assert set(facts["outcomes"]) <= {"passed", "skipped"}
    save_screenshot(browser, "report-healthy.png", tmp_path)
    page_facts(browser, run, width=PHONE, scripts=False)
    save_screenshot(browser, "report-healthy-phone.png", tmp_path)


COVERAGE = """(() => {
  const section = document.getElementById('s2d-resources');
  const box = section.getBoundingClientRect();
  const rows = [...section.querySelectorAll('#s2d-coverage-matrix tbody tr')];
  return {
    clip: {x: box.left + scrollX, y: box.top + scrollY, width: box.width, height: box.height},
    modules: rows.map((r) => [r.dataset.module, [...r.querySelectorAll('td')]
      .map((td) => td.textContent.trim())]),
    failing: [...section.querySelectorAll('.s2d-coverage-failures tbody tr')]
      .map((r) => r.querySelector('code').textContent),
    colours: rows.map((r) => [...r.querySelectorAll('td.s2d-cell-bad, td.s2d-cell-ok')]
      .map((td) => getComputedStyle(td).backgroundColor)),
    headline: section.querySelector('strong').textContent,
  };
})()"""


@pytest.mark.parametrize("width", [PHONE, DESKTOP])
def test_go_live_coverage_is_a_matrix_in_colour_and_words(
    browser: Browser, tmp_path: Path, width: int
) -> None:
    run = scenario_run("modules-denied")
    facts = page_facts(browser, run, width=width, scripts=False)
    assert facts["scrollWidth"] <= facts["innerWidth"]
    coverage = browser.evaluate(COVERAGE)
    assert coverage["headline"] == "9 of 11 modules readable"
    cells = dict((module, tuple(texts)) for module, texts in coverage["modules"])
    assert cells["sop"] == (NONE, "1 forbidden")
    assert cells["stock"] == (NONE, "1 forbidden")
    assert cells["sales"] == ("1 readable", NONE)
    assert coverage["failing"] == ["sop_orders", "products"]
    assert all(colour != "rgba(0, 0, 0, 0)" for row in coverage["colours"] for colour in row)
    name = "report-coverage.png" if width == DESKTOP else "report-coverage-phone.png"
    save_screenshot(browser, name, tmp_path, clip=coverage["clip"])


# --- server text is shown, never run -----------------------------------------------------------


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
    browser.open(run.report_dir / "report.html")  # JavaScript on: where markup could run
    shown = browser.evaluate(
        "(() => { document.getElementById('s2d-expand').click();"
        " document.querySelectorAll('details').forEach((d) => d.open = true);"
        " return document.body.innerText; })()"
    )
    assert browser.evaluate("window.__pwned ?? null") is None
    assert "<script>window.__pwned = 1</script>" in shown  # visible, as text
    assert browser.problems() == []
