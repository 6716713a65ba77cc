"""report.html and its pieces: every value from a server or a user escaped, evidence collapsed,
root cause and guidance first, complete without JavaScript; and junit.xml's wording."""

from __future__ import annotations

from sage200_doctor.engine.results import CheckResult, Exchange, Outcome
from sage200_doctor.redact import Redactor
from sage200_doctor.report import html as page
from sage200_doctor.report import html_parts as report_html
from sage200_doctor.report import junit
from tests.unit.test_report_json import HOSTILE, TOKEN, sample_run


def hostile_check() -> CheckResult:
    exchange = Exchange(
        method="POST",
        url=f"https://api.example.test/{HOSTILE}",
        request_headers={"X-Evil": HOSTILE},
        request_body=f"note={HOSTILE}",
        status=502,
        response_headers={"X-Echo": HOSTILE},
        body_excerpt=f"<html><body>{HOSTILE}</body></html>",
        error=HOSTILE,
    )
    return CheckResult(
        "network.api",
        40,
        f"API {HOSTILE}",
        Outcome.FAILED,
        summary=f"summary {HOSTILE}",
        details=f"details {HOSTILE}",
        guidance_ids=("guide.network",),
        evidence=[exchange],
        facts={HOSTILE: HOSTILE},
    )


def test_everything_from_a_server_or_user_is_escaped() -> None:
    run = sample_run()
    check = hostile_check()
    run.checks.insert(1, check)
    pieces = [
        report_html.check_panel(check, run),
        report_html.root_cause_section(run),
        report_html.other_findings(run),
        report_html.capabilities_section(run),
        report_html.banner(run),
    ]
    for piece in pieces:
        assert "<script>" not in piece
        assert "<img" not in piece
    panel = pieces[0]
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in panel
    assert panel.count("&lt;script&gt;") >= 5  # url, headers, body, request body, error, facts


def test_evidence_is_collapsed_and_complete() -> None:
    run = sample_run()
    panel = report_html.check_panel(run.checks[1], run)
    assert panel.count("<details") == 1
    assert "<details open" not in panel
    summary = panel[panel.index("<summary>") : panel.index("</summary>")]
    assert "GET" in summary
    assert "401" in summary
    assert "12 ms" in summary
    assert "s2d-status-4xx" in summary
    for part in ("Request headers", "Response headers", "Response body", "Bearer [redacted]"):
        assert part in panel


def test_exchange_without_an_answer_says_so() -> None:
    block = report_html.exchange_block(
        Exchange("GET", "https://x.test/", {}, error="DNS lookup failed")
    )
    assert "no answer" in block
    assert "DNS lookup failed" in block
    assert "Response body" not in block


def test_root_cause_section_has_guidance_owner_link_and_next_step() -> None:
    section = report_html.root_cause_section(sample_run())
    assert 'href="#gateway.subscription_key"' in section
    assert "Next step" in section
    assert "Usually fixed by" in section
    assert 'href="https://developer.sage.com/200/guides/postman/"' in section
    assert 'rel="noopener noreferrer"' in section
    assert "1 later check(s) could not run because of it" in section


def test_passing_run_says_so_without_a_root_cause() -> None:
    run = sample_run(failing=False)
    assert "No root cause" in report_html.root_cause_section(run)
    assert "s2d-verdict-pass" in report_html.banner(run)


def test_blocked_and_consequence_notes() -> None:
    run = sample_run()
    blocked = report_html.check_panel(run.checks[3], run)
    assert 'Not run: it needs <a class="s2d-check" href="#gateway.subscription_key">' in blocked
    run.checks[3].outcome, run.checks[3].blocked_by = Outcome.FAILED, None
    later = report_html.check_panel(run.checks[3], run)
    assert "Also found: a fault of its own" in later


def test_our_own_docs_are_not_broken_links() -> None:
    assert "<a" not in report_html.link("docs/network.md")
    assert "docs/network.md" in report_html.link("docs/network.md")


def test_other_findings_list_warnings_with_guidance() -> None:
    section = report_html.other_findings(sample_run())
    assert "customers.query_conformance" in section
    assert "s2d-warning" in section
    assert "https://developer.sage.com/200/guides/query-parameters/" in section


def test_junit_messages_name_the_root_cause_and_what_else_was_found() -> None:
    run = sample_run()
    root = run.checks[1]
    assert junit.failure_text(root, run).startswith("Root cause: gateway.subscription_key: ")
    later = CheckResult("sites.list", 100, "Sites", Outcome.FAILED, "No sites.")
    run.checks.append(later)
    assert junit.failure_text(later, run).startswith("Also found: sites.list: No sites.")
    assert junit.skip_reason(run.checks[3], run) == (
        "blocked by gateway.subscription_key, which did not pass; "
        "root cause: gateway.subscription_key"
    )
    broken = CheckResult("api.schema", 150, "Shapes", Outcome.ERROR, "sage200-doctor failed.")
    assert junit.failure_text(broken, run).startswith(
        "Internal error in sage200-doctor, api.schema: "
    )


def test_the_page_is_complete_without_javascript() -> None:
    run = sample_run()
    html = page.render_page(run, Redactor())
    body = html[: html.index("<script>")]  # what a reader without JavaScript gets
    for check in run.checks:
        assert f'id="{check.id}"' in body
        assert check.title.split()[0] in body
    assert "Bearer [redacted]" in body  # evidence is in the page itself
    assert 'name="viewport"' in html
    assert "Content-Security-Policy" in html
    assert (
        'blocked by <a class="s2d-check" href="#gateway.subscription_key">'
        "gateway.subscription_key</a>" in body
    )


def test_a_late_learned_token_is_masked_in_the_data_not_in_the_markup() -> None:
    run = sample_run()
    run.checks[1].summary = f"echoed {TOKEN}"
    redactor = Redactor()
    redactor.add("access_token", TOKEN)
    html = page.render_page(run, redactor)
    assert TOKEN not in html
    assert "echoed [redacted" in html


def test_stylesheet_ships_with_the_package() -> None:
    css = report_html.stylesheet()
    assert ".s2d-banner" in css
    assert "url(" not in css


def test_an_internal_error_is_not_reported_as_a_pass() -> None:
    run = sample_run(failing=False)
    run.checks[1].outcome = Outcome.ERROR
    run.checks[1].summary = "sage200-doctor failed inside this check (TypeError)."
    section = report_html.root_cause_section(run)
    assert "Internal error" in section
    assert "No root cause" not in section
    assert "s2d-verdict-internal-error" in report_html.banner(run)


def test_a_passing_capture_is_not_called_a_working_set_up() -> None:
    run = sample_run(failing=False)
    run.source = "recorded"
    html = page.render_page(run, Redactor())
    assert "Nothing wrong in what the capture shows" in html
    assert "set-up works" not in html
    assert "sage200-doctor run --env FILE" in html


def test_a_table_of_facts_is_a_table_not_python_text() -> None:
    rows = [
        {"item": "Sites <b>", "method": "GET", "status": 200},
        {"item": "Customers", "method": "GET", "status": None},
    ]
    markup = report_html.fact_value(rows)
    assert "<th>item</th><th>method</th><th>status</th>" in markup
    assert "<td>Sites &lt;b&gt;</td>" in markup
    assert "{" not in markup
    assert "None" not in markup
    assert report_html.fact_value(["a", 1]) == "a, 1"
    assert report_html.fact_value({"x": "<y>"}) == "x: &lt;y&gt;"
    assert report_html.fact_value("<z>") == "&lt;z&gt;"
