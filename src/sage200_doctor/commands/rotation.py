"""`sage200-doctor rotation`: prove a credential rotation before the old credential is dropped.

The gate holds when the NEW settings pass a full run and, with `--expect-old-revoked`, every
credential that changed between OLD and NEW is refused at the step it belongs to:

| what changed | where the old value must be refused |
|---|---|
| `SAGE200_SUBSCRIPTION_KEY` | `gateway.subscription_key` (the gateway calls it invalid) |
| `SAGE200_CLIENT_ID` / `SAGE200_CLIENT_SECRET` | `token.refresh`, `invalid_client` |
| `SAGE200_REFRESH_TOKEN` | `token.refresh`, `invalid_grant` |

The old settings run first, the new ones last: if presenting an old refresh token makes the
identity server revoke the newer one too (refresh-token reuse detection), the new run shows it
instead of the gate passing over a credential that just died. When an old client secret is
refused before the old refresh token is ever presented, the old refresh token is tried once more
on its own with the new client credentials (a "probe", `--only token.refresh`).

Each run is the ordinary `run` command, in-process, with its own report directory
(DIR/old, DIR/old-refresh-token, DIR/new); the gate writes DIR/report.json and DIR/report.html.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sage200_doctor.errors import ExitCode, UsageError

SCHEMA_ID = "sage200-doctor/rotation@1"
DEFAULT_REPORT_DIR = "reports/rotation"
KEY_GUIDANCE = "faq.postman.subscription-key"
CREDENTIAL_KEYS = (
    "SAGE200_SUBSCRIPTION_KEY",
    "SAGE200_CLIENT_ID",
    "SAGE200_CLIENT_SECRET",
    "SAGE200_CLIENT_AUTH",
    "SAGE200_REFRESH_TOKEN",
    "SAGE200_ACCESS_TOKEN",
    "SAGE200_AUTHORIZATION",
)
CLIENT_KEYS = ("SAGE200_CLIENT_ID", "SAGE200_CLIENT_SECRET", "SAGE200_CLIENT_AUTH")
PLACE_KEYS = ("SAGE200_API_BASE_URL", "SAGE200_TOKEN_URL")

Report = dict[str, Any]
Runner = Callable[[Path, Path, tuple[str, ...], bool], tuple[int, Report | None]]
"""(env file, report dir, --only ids, quiet) -> (exit code, report.json or None)."""


class GateUsageError(UsageError):
    """The gate cannot be run as asked (exit 4)."""


@dataclass(frozen=True)
class Credential:
    name: str
    keys: tuple[str, ...]
    step: str
    refusal: str  # what the step must answer to the old value

    def changed(self, old: dict[str, str], new: dict[str, str]) -> bool:
        """OLD had a value that NEW no longer carries (a value only added is nothing to revoke)."""
        return any(key in old and old[key] != new.get(key) for key in self.keys)


CREDENTIALS = (
    Credential(
        "subscription key",
        ("SAGE200_SUBSCRIPTION_KEY",),
        "gateway.subscription_key",
        "the gateway rejects the key",
    ),
    Credential(
        "client secret",
        ("SAGE200_CLIENT_ID", "SAGE200_CLIENT_SECRET"),
        "token.refresh",
        "invalid_client",
    ),
    Credential("refresh token", ("SAGE200_REFRESH_TOKEN",), "token.refresh", "invalid_grant"),
)


@dataclass
class Expectation:
    credential: str
    step: str
    expected: str
    observed: str = "not tested"
    held: bool = False
    where: str = "old"

    def to_json(self) -> dict[str, Any]:
        return {
            "credential": self.credential,
            "step": self.step,
            "expected": self.expected,
            "observed": self.observed,
            "held": self.held,
            "report": self.where,
        }


@dataclass
class GateResult:
    changed: list[str]
    reasons: list[str] = field(default_factory=list)
    expectations: list[Expectation] = field(default_factory=list)
    new: Report | None = None
    old: Report | None = None
    probes: list[dict[str, Any]] = field(default_factory=list)
    """{credential, dir, report}: an old credential tried on its own (see `_probe`)."""
    failed: bool = False
    published: dict[str, Any] = field(default_factory=dict)
    """The gate's report.json as written: redacted with both sides' secrets."""

    def fail(self, reason: str) -> None:
        self.failed = True
        self.reasons.append(reason)

    @property
    def gate(self) -> str:
        return "fail" if self.failed else "pass"


# --- reading the two env files ------------------------------------------------------------------


def _credential_values(path: Path) -> tuple[dict[str, str], Any]:
    """The plain values of the credential and place keys, and the loaded settings."""
    from sage200_doctor.config.settings import Secret, UsageError, load_settings

    try:
        loaded = load_settings(path)
    except UsageError as error:
        raise GateUsageError(str(error)) from None
    settings = loaded.settings
    overridden = [key for key in CREDENTIAL_KEYS if settings.sources.get(key) == "environment"]
    if overridden:
        raise GateUsageError(
            f"{', '.join(overridden)} {'is' if len(overridden) == 1 else 'are'} set in the "
            "environment, which would override both env files and test the same credential "
            "twice. Unset it for the rotation gate and keep each side's values in its file."
        )
    values: dict[str, str] = {}
    for key in (*CREDENTIAL_KEYS, *PLACE_KEYS):
        value = settings.raw.get(key)
        if value is not None:
            text = value.reveal() if isinstance(value, Secret) else value
            values[key] = text.strip()
    return values, settings


# --- judging the runs ---------------------------------------------------------------------------


def _check(report: Report | None, check_id: str) -> dict[str, Any] | None:
    for entry in (report or {}).get("checks", []):
        if entry.get("id") == check_id:
            return dict(entry)
    return None


def token_errors(entry: dict[str, Any]) -> list[str]:
    """The OAuth error codes the token endpoint answered in a check's evidence."""
    codes = []
    for exchange in entry.get("evidence") or []:
        response = exchange.get("response") or {}
        try:
            body = json.loads(str(response.get("body", "")))
        except json.JSONDecodeError:
            continue
        if isinstance(body, dict) and isinstance(body.get("error"), str):
            codes.append(body["error"])
    return codes


def observe(report: Report | None, credential: Credential) -> tuple[bool, str]:
    """Whether `report` shows the old `credential` refused where it belongs, and what it shows."""
    entry = _check(report, credential.step)
    if entry is None:
        return False, f"{credential.step} did not run"
    outcome = entry.get("outcome")
    if outcome == "blocked":
        return False, f"{credential.step} was blocked by {entry.get('blocked_by')}"
    if outcome in ("passed", "warning"):
        return False, f"{credential.step} {outcome}: the old {credential.name} is still accepted"
    if outcome != "failed":
        return False, f"{credential.step} {outcome}: {entry.get('summary', '')}"
    if credential.step == "gateway.subscription_key":
        ids = [g.get("id") for g in entry.get("guidance") or []]
        refused = KEY_GUIDANCE in ids
        return refused, f"{credential.step} failed: {entry.get('summary', '')}"
    codes = token_errors(entry)
    said = f"{credential.step} failed with {', '.join(dict.fromkeys(codes)) or 'no OAuth error'}"
    return credential.refusal in codes, said


def judge_old(
    result: GateResult, old: Report | None, changed: list[Credential]
) -> list[Credential]:
    """Record what the old run shows; return the credentials a probe has to try on their own."""
    probes: list[Credential] = []
    for credential in changed:
        held, observed = observe(old, credential)
        expectation = Expectation(
            credential.name, credential.step, credential.refusal, observed, held
        )
        result.expectations.append(expectation)
        if credential.name == "refresh token" and not held and _shadowed_by_client(old):
            expectation.observed += " (the old client secret was refused first)"
            probes.append(credential)
    return probes


def _shadowed_by_client(old: Report | None) -> bool:
    entry = _check(old, "token.refresh")
    return entry is not None and "invalid_client" in token_errors(entry)


def conclude(result: GateResult, new_code: int, new: Report | None, expect_old: bool) -> None:
    """The gate's verdict from what was recorded: every reason that breaks it is kept."""
    result.new = new
    if new is None:
        result.fail(f"The new settings produced no report (exit {new_code}).")
    elif new.get("verdict") != "pass":
        root = new.get("root_cause") or {}
        result.fail(
            f"The new settings do not pass a full run: verdict {new.get('verdict')}, root cause "
            f"{root.get('check')}: {root.get('summary')}"
        )
    else:
        result.reasons.append("The new settings pass a full run.")
    if not result.changed:
        result.fail(
            "No credential differs between OLD and NEW (subscription key, client id or secret, "
            "refresh token): nothing was rotated."
        )
    if not expect_old:
        if result.changed:
            result.reasons.append(
                f"Rotated: {', '.join(result.changed)}. The old values were not tried "
                "(--expect-old-revoked not given)."
            )
        return
    for expectation in result.expectations:
        if expectation.held:
            result.reasons.append(
                f"The old {expectation.credential} is refused at {expectation.step} "
                f"({expectation.expected})."
            )
        else:
            result.fail(
                f"The old {expectation.credential} must be refused at {expectation.step} "
                f"({expectation.expected}), but: {expectation.observed}."
            )


# --- running ------------------------------------------------------------------------------------


def run_cli(
    env_file: Path, report_dir: Path, only: tuple[str, ...], quiet: bool
) -> tuple[int, Report | None]:
    """One ordinary diagnosis of `env_file`, in this process, as `run` makes it (reports in
    `report_dir`); its report.json is the engine's result."""
    from sage200_doctor.commands.run import diagnose
    from sage200_doctor.config.settings import load_settings
    from sage200_doctor.report.json import build_report

    loaded = load_settings(env_file, default_env_file=Path("/nonexistent/.env"))
    args = argparse.Namespace(
        report_dir=str(report_dir), quiet=quiet, only=[list(only)] if only else None
    )
    result = diagnose(loaded, args)
    report: Report = build_report(result, loaded.settings.redactor())
    return result.exit_code, report


def run_gate(
    old_env: Path,
    new_env: Path,
    *,
    report_dir: Path,
    expect_old_revoked: bool,
    quiet: bool = False,
    runner: Runner = run_cli,
) -> GateResult:
    """Run the gate and write its report; `GateUsageError` when it cannot be run as asked."""
    if old_env.resolve() == new_env.resolve():
        raise GateUsageError("--old and --new name the same file")
    old_values, old_settings = _credential_values(old_env)
    new_values, new_settings = _credential_values(new_env)
    changed = [c for c in CREDENTIALS if c.changed(old_values, new_values)]
    result = GateResult(changed=[c.name for c in changed])
    if expect_old_revoked:
        _announce("old settings (each rotated value must be refused)", quiet)
        _, result.old = runner(old_env, report_dir / "old", (), quiet)
        for credential in judge_old(result, result.old, changed):
            slug = "old-" + credential.name.replace(" ", "-")
            _announce(f"old {credential.name} with the new client credentials", quiet)
            probe = _probe(old_env, new_values, report_dir / slug, quiet, runner)
            result.probes.append({"credential": credential.name, "dir": slug, "report": probe})
            held, observed = observe(probe, credential)
            expectation = next(e for e in result.expectations if e.credential == credential.name)
            expectation.held, expectation.where = held, slug
            expectation.observed = f"on its own: {observed}"
    _announce("new settings (must pass a full run)", quiet)
    new_code, new = runner(new_env, report_dir / "new", (), quiet)
    conclude(result, new_code, new, expect_old_revoked)
    _places_differ(result, old_values, new_values)
    result.published = write_gate_report(result, report_dir, (old_settings, new_settings))
    return result


def _probe(
    old_env: Path, new_values: dict[str, str], report_dir: Path, quiet: bool, runner: Runner
) -> Report | None:
    """The old env file with the new client credentials, so only the old refresh token is old."""
    from sage200_doctor.config.envfile import render

    updates = {key: new_values.get(key, "") for key in CLIENT_KEYS}
    content = render(old_env.read_bytes(), updates)
    with tempfile.TemporaryDirectory(prefix="sage200-rotation-") as workdir:
        probe_env = Path(workdir) / "probe.env"
        descriptor = os.open(probe_env, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(content)
        _, report = runner(probe_env, report_dir, ("token.refresh",), quiet)
    return report


def _places_differ(result: GateResult, old: dict[str, str], new: dict[str, str]) -> None:
    moved = [key for key in PLACE_KEYS if old.get(key) != new.get(key)]
    if moved:
        result.fail(
            f"OLD and NEW point at different places ({', '.join(moved)}): a rotation gate "
            "compares two sets of credentials for the same environment."
        )


def _announce(what: str, quiet: bool) -> None:
    if not quiet:
        print(f"\n=== rotation gate: {what} ===", flush=True)


# --- the gate's own report ----------------------------------------------------------------------


def build_gate_report(result: GateResult) -> dict[str, Any]:
    return {
        "schema": SCHEMA_ID,
        "gate": result.gate,
        "reasons": result.reasons,
        "changed": result.changed,
        "expectations": [e.to_json() for e in result.expectations],
        "new": result.new,
        "old": result.old,
        "probes": result.probes,
    }


def write_gate_report(
    result: GateResult, report_dir: Path, settings: tuple[Any, Any]
) -> dict[str, Any]:
    from sage200_doctor.config.settings import redactor_for

    data: Any = build_gate_report(result)
    # Each side's report was redacted by its own run; the other side's secrets are masked too.
    data = redactor_for(*settings).data(data)
    report_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    (report_dir / "report.json").write_text(text, encoding="utf-8")
    (report_dir / "report.html").write_text(render_html(data), encoding="utf-8")
    published: dict[str, Any] = data
    return published


def render_html(data: dict[str, Any]) -> str:
    """A short page: the gate, its reasons, each side's verdict with a link to its report."""
    e = html.escape
    gate = str(data["gate"])
    reasons = "".join(f"<li>{e(str(reason))}</li>" for reason in data["reasons"])
    rows = []
    # (Probe names are not dict keys anywhere: a key ending in "token" is masked as a secret.)
    probes = [(str(probe["dir"]), probe["report"]) for probe in data["probes"]]
    sides = [("new", data["new"]), ("old", data["old"]), *probes]
    for name, report in sides:
        if report is None and name != "new":
            continue  # the old settings were not tried
        verdict = e(str(report.get("verdict"))) if report else "no report"
        root = (report or {}).get("root_cause") or {}
        cause = e(f"{root.get('check')}: {root.get('summary')}") if root else ""
        link = f'<a href="{e(name)}/report.html">{e(name)}/report.html</a>' if report else ""
        rows.append(f"<tr><td>{e(name)}</td><td>{verdict}</td><td>{cause}</td><td>{link}</td></tr>")
    changed = e(", ".join(data["changed"]) or "nothing")
    colour = "#1a7f37" if gate == "pass" else "#cf222e"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>sage200-doctor rotation gate</title>"
        "<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3rem .6rem;"
        "text-align:left}</style></head><body>"
        f'<h1 style="color:{colour}">Rotation gate: {e(gate.upper())}</h1>'
        f"<p>Rotated: {changed}</p><ul>{reasons}</ul>"
        "<table><tr><th>run</th><th>verdict</th><th>root cause</th><th>report</th></tr>"
        f"{''.join(rows)}</table></body></html>\n"
    )


# --- command ------------------------------------------------------------------------------------


def command(args: argparse.Namespace) -> int:
    report_dir = Path(args.report_dir)
    result = run_gate(
        Path(args.old),
        Path(args.new),
        report_dir=report_dir,
        expect_old_revoked=args.expect_old_revoked,
        quiet=args.quiet,
    )
    print(f"\nRotation gate: {result.gate.upper()}")
    for reason in result.published["reasons"]:
        print(f"  - {reason}")
    print(f"Reports: {report_dir / 'report.html'}, {report_dir / 'report.json'}")
    return int(ExitCode.FINDING if result.failed else ExitCode.PASS)


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser], name: str) -> None:
    """Add `rotation` to the CLI's subcommands."""
    parser = commands.add_parser(
        "rotation",
        help="prove a credential rotation: NEW passes, OLD is refused",
        description="The credential-rotation gate for CI: runs the diagnosis on the NEW "
        "settings (it must pass) and, with --expect-old-revoked, checks that every credential "
        "that changed is refused where it belongs (docs/ci.md, 'The rotation gate').",
        epilog="""\
exit codes:
  0  the gate holds
  1  it does not (the reasons are printed and in DIR/report.json)
  4  usage error (an unreadable env file, the same file twice, SAGE200_* credentials set in
     the environment, which would override both files)

example:
  sage200-doctor rotation --old old.env --new new.env --expect-old-revoked
""",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--old", required=True, metavar="OLD.env", help="env file of the settings before rotating"
    )
    parser.add_argument(
        "--new", required=True, metavar="NEW.env", help="env file of the settings after rotating"
    )
    parser.add_argument(
        "--expect-old-revoked",
        action="store_true",
        help="also require each changed old credential to be refused where it belongs",
    )
    parser.add_argument(
        "--report-dir",
        default=DEFAULT_REPORT_DIR,
        metavar="DIR",
        help=f"where the gate's reports go, one folder per run (default: {DEFAULT_REPORT_DIR}/)",
    )
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="each run's verdict and root cause only (for CI logs), then the gate",
    )
    parser.set_defaults(handler=command)
