"""The step a reader should take first, fitted to the finding.

A guidance entry lists its steps in a general order (for guide.network: names resolve, the
firewall, the proxy, TLS inspection). Often the finding already tells which one applies: a
network finding names the kind of problem (`kind: proxy` in its details, the stable
`NetworkProblem.kind` of http/network.py), and an HTTP answer proves the host resolved and
connected. So a refused proxy is told to check the proxy, not whether host names resolve.
"""

from __future__ import annotations

import re

from sage200_doctor.engine.results import CheckResult, RunResult
from sage200_doctor.guidance import guidance_for

NETWORK = "guide.network"
# A pass means what was examined: a whole live set-up, or only what a capture or a collection
# shows. The words say which, so a clean capture is never read as "the set-up works".
PASS_WORDS = {
    "live": (
        "the API set-up works",
        "The set-up works: point your integration at the same settings (edition, base URL, "
        "client, X-Site and X-Company).",
    ),
    "recorded": (
        "nothing wrong in what the capture shows",
        "Nothing the capture holds explains a failure. To check the whole set-up, run "
        "sage200-doctor run --env FILE against the site.",
    ),
    "postman": (
        "nothing wrong in the collection",
        "Nothing in the collection explains a failure. To check the whole set-up, write its "
        "settings with --write-env FILE and run sage200-doctor run --env FILE.",
    ),
}
FALLBACK = "Fix this check's finding, then run sage200-doctor again."
_KIND = re.compile(r"^kind: ([a-z-]+)\s*$", re.MULTILINE)
_TLS_CA = (
    "If TLS inspection is in use, set SAGE200_CA_BUNDLE to the organisation's root CA in PEM "
    "form; sage200-doctor never switches certificate checks off."
)
NETWORK_STEPS = {
    "proxy": "Check the proxy in HTTPS_PROXY / HTTP_PROXY: its host and port, and that it is "
    "running; if this network needs no proxy, unset it (or list the Sage hosts in NO_PROXY).",
    "dns": "Check both host names resolve from this machine (nslookup id.sage.com; nslookup "
    "api.columbus.sage.com), and that the URLs in your settings are spelled right.",
    "refused": "Check the host and port in the URL: nothing accepts connections there (or a "
    "firewall refuses them).",
    "connect-timeout": "Allow outbound HTTPS (port 443) to id.sage.com and "
    "api.columbus.sage.com: a firewall that drops connections looks like a timeout.",
    "read-timeout": "Run again; if the host stays slow, raise SAGE200_TIMEOUT_S or ask whoever "
    "runs it why it answers so late.",
    "reset": "Ask the network team about a proxy or firewall that cuts connections short, or "
    "try from a network without it.",
    "tls": _TLS_CA,
    "tls-untrusted": _TLS_CA,
    "tls-expired": "Check this computer's date and time; if they are right, the certificate "
    "really has expired: tell whoever runs the host.",
    "tls-hostname": "Check the host name in the URL: the certificate is for another name (a "
    "wrong URL, or a proxy answering in its place).",
}
ANSWERED = (
    "An answer came back, so the host resolves and connects: check that the URL in your "
    "settings is Sage's, and whether a proxy or firewall answered in its place."
)


def network_kind(check: CheckResult) -> str | None:
    """The kind of network problem a finding names (`kind: proxy`), or None."""
    found = _KIND.search(check.details or "")
    return found.group(1) if found else None


def step_for(check: CheckResult, guidance_id: str) -> str | None:
    """The first step of this guidance entry for this finding (None: the entry has none)."""
    if guidance_id == NETWORK:
        kind = network_kind(check)
        if kind in NETWORK_STEPS:
            return NETWORK_STEPS[kind]
        if kind is None and any(e.status is not None for e in check.evidence):
            return ANSWERED
    steps = guidance_for(guidance_id).steps
    return steps[0] if steps else None


def next_step(check: CheckResult) -> str:
    """The one next step for a finding: from its first guidance entry that has one."""
    for guidance_id in check.guidance_ids:
        step = step_for(check, guidance_id)
        if step:
            return step
    return FALLBACK


def pass_words(result: RunResult) -> tuple[str, str]:
    """What a pass verdict says, and the next step after it, for what the run examined."""
    return PASS_WORDS.get(result.source, PASS_WORDS["live"])
