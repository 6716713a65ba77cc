"""`postman --run` in-process: the Authorization header as Postman builds it with a fresh token,
which requests are sent (GET to the API only) and which are not, one refresh grant at most, and
each answer judged by the shared rules. The network is an httpx.MockTransport."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from sage200_doctor.config.settings import LoadedSettings, load_settings
from sage200_doctor.engine.results import Interruption
from sage200_doctor.errors import ExitCode
from sage200_doctor.http.answer import Answer
from sage200_doctor.postman import Auth, Pair, ResolvedRequest, Unresolved
from sage200_doctor.postman.judge import judge_answer
from sage200_doctor.postman.outgoing import authorization_for, headers_for, why_not_sent, with_token
from sage200_doctor.postman.send import CollectionRun, Sent
from sage200_doctor.rules.query import judge_query_refused

API = "https://api.columbus.sage.com/uk/sage200/accounts/v1/"
TOKEN_URL = "https://id.sage.com/oauth/token"
FRESH = "fresh-access-token-0123456789abcdef"
SITE = "2f1e0c4a-7d3b-4e59-9a61-0c8d5b7e3f12"
DENIED = {"Message": "Authorization has been denied for this request."}
OAUTH = Auth("oauth2", (("headerPrefix", "Bearer "),))
KEY = Pair("ocp-apim-subscription-key", "subscription-key-value")
SCOPED = (KEY, Pair("X-Site", SITE), Pair("X-Company", "1"))


def request(
    name: str,
    resource: str,
    *,
    method: str = "GET",
    headers: tuple[Pair, ...] = SCOPED,
    auth: Auth | None = OAUTH,
    base: str = API,
    query: tuple[Pair, ...] = (),
    unresolved: tuple[Unresolved, ...] = (),
) -> ResolvedRequest:
    url = base + resource + ("?" + "&".join(f"{p.key}={p.value}" for p in query) if query else "")
    return ResolvedRequest(
        path=("Folder", name),
        method=method,
        url=url,
        headers=headers,
        query=query,
        auth=auth,
        unresolved=unresolved,
    )


# --- the Authorization header, as Postman builds it ---------------------------------------------


@pytest.mark.parametrize(
    ("auth", "expected"),
    [
        (Auth("oauth2", ()), f"Bearer {FRESH}"),  # prefix unset: Postman's default
        (Auth("oauth2", (("headerPrefix", "Bearer"),)), f"Bearer {FRESH}"),  # trimmed, one space
        (Auth("oauth2", (("headerPrefix", " Bearer  "),)), f"Bearer {FRESH}"),
        (Auth("oauth2", (("headerPrefix", ""),)), FRESH),  # empty: the token alone
        (Auth("oauth2", (("headerPrefix", "Token"),)), f"Token {FRESH}"),
        (Auth("oauth2", (("addTokenTo", "queryParams"),)), None),
        (Auth("bearer", (("token", "{{accessToken}}"),)), f"Bearer {FRESH}"),
    ],
)
def test_the_auth_settings_sign_as_postman_does(auth: Auth, expected: str | None) -> None:
    typed = (Pair("Authorization", "Bearer old-token"),)
    built = request("r", "sites", headers=typed, auth=auth)
    assert authorization_for(built, FRESH) == expected
    sent = headers_for(built, FRESH)
    assert sent.get("Authorization") == expected  # the typed header is replaced, never kept


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("Bearer old-token-value", f"Bearer {FRESH}"),
        ("Bearerold-token-value", f"Bearer{FRESH}"),  # the caution, reproduced
        ("bearer  old", f"bearer  {FRESH}"),
        ('Bearer "old"', f'Bearer "{FRESH}"'),
        ("Bearer Bearer old", f"Bearer Bearer {FRESH}"),
        ("old-token-without-scheme", FRESH),
        (" Bearer old ", f" Bearer {FRESH} "),
    ],
)
def test_a_typed_header_keeps_its_shape_with_the_fresh_token(typed: str, expected: str) -> None:
    assert with_token(typed, FRESH) == expected
    built = request("r", "sites", headers=(Pair("Authorization", typed),), auth=None)
    assert headers_for(built, FRESH)["Authorization"] == expected


def test_an_api_key_auth_adds_its_header() -> None:
    auth = Auth("apikey", (("key", "ocp-apim-subscription-key"), ("value", "k-123")))
    sent = headers_for(request("r", "sites", headers=(), auth=auth), FRESH)
    assert sent == {"ocp-apim-subscription-key": "k-123"}


@pytest.mark.parametrize(
    ("built", "have_token", "reason"),
    [
        (request("r", "customers", method="POST"), True, "POST writes (postman.writes)"),
        (request("r", "anything", base="https://example.com/"), True, "not a Sage 200 API request"),
        (
            request("r", "customers", unresolved=(Unresolved("siteId", "header X-Site"),)),
            True,
            "{{siteId}} is not defined",
        ),
        (
            request("r", "customers", unresolved=(Unresolved("top", "query $top"),)),
            True,
            "{{top}} is not defined",
        ),
        (request("r", "customers", headers=(Pair("X-Site", "a\nb"),)), True, "line break"),
        (request("r", "customers"), False, "no access token to send it with"),
    ],
)
def test_what_is_never_sent(built: ResolvedRequest, have_token: bool, reason: str) -> None:
    said = why_not_sent(built, api_base_url=None, have_token=have_token)
    assert said is not None
    assert reason in said


def test_an_undefined_token_variable_does_not_stop_the_request() -> None:
    built = request(
        "r",
        "sites",
        headers=(Pair("Authorization", "Bearer {{accessToken}}"),),
        auth=None,
        unresolved=(Unresolved("accessToken", "header Authorization"),),
    )
    assert why_not_sent(built, api_base_url=None, have_token=True) is None


# --- answers, judged ------------------------------------------------------------------------------


def answer(status: int, body: object, **headers: str) -> Answer:
    return Answer(
        url=API,
        status=status,
        text=json.dumps(body),
        headers={"content-type": "application/json", **headers},
    )


@pytest.mark.parametrize(
    ("resource", "query", "sent", "got", "check", "outcome", "guidance"),
    [
        (
            "customers",
            (),
            {"ocp-apim-subscription-key": "k"},
            answer(
                401,
                {
                    "statusCode": 401,
                    "message": "Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription.",
                },
            ),
            "gateway.subscription_key",
            "failed",
            "faq.postman.subscription-key",
        ),
        (
            "sites",
            (),
            {"Authorization": f"Bearer{FRESH}"},
            answer(401, DENIED),
            "header.authorization",
            "failed",
            "faq.postman.bearer-space",
        ),
        (
            "customers",
            (),
            {"Authorization": f"Bearer {FRESH}"},
            answer(403, {"Message": "No access to the Sales Ledger."}),
            "customers.list",
            "failed",
            "faq.errors.403",
        ),
        (
            "customers",
            (Pair("$filter", "reference eq 'A1D001"),),
            {"Authorization": f"Bearer {FRESH}"},
            answer(400, {"Message": "The query specified in the URI is not valid."}),
            "customers.filter",
            "failed",
            "faq.query.odata",
        ),
        (
            "sop_orders",
            (),
            {"Authorization": f"Bearer {FRESH}"},
            answer(404, {"Message": "No HTTP resource was found."}),
            "api.resources",
            "failed",
            "faq.errors.404",
        ),
        (
            "sites",
            (),
            {"Authorization": f"Bearer {FRESH}"},
            answer(200, []),
            "sites.list",
            "failed",
            "faq.setup.configure",
        ),
        (
            "sites",
            (),
            {"Authorization": f"Bearer{FRESH}"},
            answer(200, [{"site_id": SITE, "company_id": 1}]),
            "header.authorization",
            "warning",
            "faq.postman.bearer-space",
        ),
    ],
)
def test_each_answer_is_judged_by_the_shared_rules(
    resource: str,
    query: tuple[Pair, ...],
    sent: dict[str, str],
    got: Answer,
    check: str,
    outcome: str,
    guidance: str,
) -> None:
    judgements = judge_answer(request("r", resource, query=query), got, sent)
    assert [(j.check, j.outcome) for j in judgements][:1] == [(check, outcome)]
    assert guidance in judgements[0].guidance


def test_a_good_answer_has_nothing_to_say() -> None:
    good = answer(200, [{"site_id": SITE, "company_id": 1}])
    assert judge_answer(request("r", "sites"), good, {"Authorization": f"Bearer {FRESH}"}) == []


def test_a_refused_query_belongs_to_the_query_checks_only_on_a_400_with_options() -> None:
    refused = judge_query_refused(400, "HTTP 400", [("%24top", "x")])
    assert refused is not None
    assert refused.check == "customers.query_conformance"
    assert judge_query_refused(400, "HTTP 400", [("reference", "x")]) is None
    assert judge_query_refused(401, "HTTP 401", [("$filter", "x")]) is None


# --- the run, on a mock network ---------------------------------------------------------------------


Handler = Callable[[httpx.Request], httpx.Response]


def settings(**values: str) -> LoadedSettings:
    base = {"SAGE200_EDITION": "standard", "SAGE200_CLIENT_ID": "client-id"}
    return load_settings(
        None,
        environ={},
        overrides={**base, **values},
        default_env_file=Path("/nonexistent/.env"),
    )


def sage(seen: list[httpx.Request], *, token: dict[str, object] | None = None) -> Handler:
    def handle(sent: httpx.Request) -> httpx.Response:
        seen.append(sent)
        if sent.url.path == "/oauth/token":
            return httpx.Response(200, json=token or {"access_token": FRESH, "expires_in": 3600})
        if sent.headers.get("authorization") != f"Bearer {FRESH}":
            return httpx.Response(401, json=DENIED)
        if sent.url.path.endswith("/sites"):
            return httpx.Response(
                200,
                json=[{"site_id": SITE, "company_id": 1, "site_name": "S", "company_name": "C"}],
            )
        return httpx.Response(200, json=[{"id": 1}])

    return handle


def run_collection(
    requests: list[ResolvedRequest],
    loaded: LoadedSettings,
    handler: Handler,
    *,
    stop_first: bool = False,
) -> Sent:
    collection = CollectionRun(
        requests,
        loaded.settings,
        loaded.settings.redactor(),
        api_base_url=None,
        transport=httpx.MockTransport(handler),
    )
    if stop_first:
        collection.interrupt(Interruption("SIGINT (Ctrl-C)", ExitCode.INTERRUPTED))
    collection.start()
    collection.wait()
    return collection.finish()


COLLECTION = [
    request("Get sites", "sites", headers=(KEY,)),
    request("Get customers", "customers"),
    request("Create customer", "customers", method="POST"),
    request("Elsewhere", "status", base="https://example.com/"),
    request(
        "Typed",
        "customers",
        headers=(*SCOPED, Pair("Authorization", "Bearer{{accessToken}}")),
        auth=None,
    ),
]


def test_only_gets_to_the_api_and_one_refresh_grant_are_sent() -> None:
    seen: list[httpx.Request] = []
    sent = run_collection(
        COLLECTION, settings(SAGE200_REFRESH_TOKEN="refresh-token-value"), sage(seen)
    )
    assert [(r.method, r.url.path) for r in seen] == [
        ("POST", "/oauth/token"),
        ("GET", "/uk/sage200/accounts/v1/sites"),
        ("GET", "/uk/sage200/accounts/v1/customers"),
        ("GET", "/uk/sage200/accounts/v1/customers"),
    ]
    assert seen[-1].headers["authorization"] == f"Bearer{FRESH}"  # as typed: no space
    assert [row.verdict for row in sent.rows] == [
        "passed",
        "passed",
        "not sent: POST writes (postman.writes)",
        "not sent: not a Sage 200 API request",
        "failed (header.authorization)",
    ]
    assert [row.fact()["status"] for row in sent.rows] == [200, 200, None, None, 401]
    assert sent.rows[1].fact() == {
        "item": "Folder/Get customers",
        "method": "GET",
        "module": "sales",
        "status": 200,
        "verdict": "passed",
    }
    assert sent.sent == 4
    assert sent.fine["token.refresh"][1].startswith("Sage ID issued an access token")
    assert {"sites.list", "customers.list", "sites.selection"} <= set(sent.fine)
    evidence = sent.evidence["token.refresh"][0]
    assert evidence.method == "POST"
    assert FRESH not in json.dumps(evidence.to_json())
    assert "refresh-token-value" not in json.dumps(evidence.to_json())


def test_a_refused_refresh_grant_sends_nothing_else() -> None:
    seen: list[httpx.Request] = []

    def refuse(sent: httpx.Request) -> httpx.Response:
        seen.append(sent)
        return httpx.Response(400, json={"error": "invalid_grant", "error_description": "expired"})

    sent = run_collection(COLLECTION, settings(SAGE200_REFRESH_TOKEN="refresh-token-value"), refuse)
    assert [r.method for r in seen] == ["POST"]
    (placed,) = sent.placed
    assert (placed.judgement.check, placed.judgement.outcome) == ("token.refresh", "failed")
    assert placed.where == "the Postman export"
    assert placed.evidence[0].status == 400
    assert sent.rows[0].verdict == "not sent: no access token to send it with"


def test_an_access_token_is_used_as_it_is_without_a_grant() -> None:
    seen: list[httpx.Request] = []
    sent = run_collection(COLLECTION[:1], settings(SAGE200_ACCESS_TOKEN=FRESH), sage(seen))
    assert [r.method for r in seen] == ["GET"]
    assert sent.fine["token.refresh"][0].value == "skipped"
    assert sent.rows[0].verdict == "passed"


def test_without_any_token_nothing_is_sent() -> None:
    seen: list[httpx.Request] = []
    sent = run_collection(COLLECTION, settings(), sage(seen))
    assert seen == []
    (placed,) = sent.placed
    assert placed.judgement.check == "config.complete"
    assert placed.judgement.guidance == ("guide.config",)


def test_a_listed_pair_passes_and_an_unlisted_one_fails_sites_selection() -> None:
    other = (KEY, Pair("x-site", SITE), Pair("x-company", "7"))  # header names in any case
    requests = [
        request("Early", "customers", headers=other),  # sent before GET sites answered
        *COLLECTION[:2],
        request("Other company", "customers", headers=other),
    ]
    sent = run_collection(requests, settings(SAGE200_ACCESS_TOKEN=FRESH), sage([]))
    failed = [p for p in sent.placed if p.judgement.check == "sites.selection"]
    assert sorted(p.where for p in failed) == [
        "request 'Folder/Early'",
        "request 'Folder/Other company'",
    ]
    assert "X-Company 7" in failed[0].judgement.summary
    assert [row.verdict for row in sent.rows] == [
        "failed (sites.selection)",
        "passed",
        "passed",
        "failed (sites.selection)",
    ]
    assert "sites.selection" in sent.fine  # Get customers' own pair is listed


def test_a_rotated_refresh_token_is_saved_even_when_the_run_is_stopped(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    seen: list[httpx.Request] = []
    rotated = {"access_token": FRESH, "refresh_token": "rotated-refresh-token-value"}
    loaded = settings(SAGE200_REFRESH_TOKEN="refresh-token-value")
    sent = run_collection(COLLECTION, loaded, sage(seen, token=rotated), stop_first=True)
    assert [r.method for r in seen] == ["POST"]  # the grant is critical; nothing after it
    assert sent.interruption is not None
    assert sent.rotation is not None
    assert sent.rotation.saved_to is not None
    assert "rotated-refresh-token-value" in sent.rotation.saved_to.read_text(encoding="utf-8")
    assert "the one in the Postman environment no longer works" in sent.rotation.note
    assert {row.verdict for row in sent.rows} == {"not sent: the run was stopped"}
