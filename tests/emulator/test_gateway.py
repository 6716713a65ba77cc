"""Gateway face: subscription key modes, rate limit, tunnel down, unknown APIs."""

from __future__ import annotations

from collections.abc import Callable

from .emulator_support import CANARY_KEY, CANARY_SECONDARY_KEY, INVALID_KEY, MISSING_KEY, Session


def without_key(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k != "ocp-apim-subscription-key"}


def test_missing_key_answers_the_apim_body(healthy: Session) -> None:
    response = healthy.get("sites", headers=without_key(healthy.headers()))
    assert response.status_code == 401
    assert response.json() == MISSING_KEY


def test_key_is_checked_before_the_token(healthy: Session) -> None:
    response = healthy.client.get(healthy.api_base + "sites")
    assert response.json() == MISSING_KEY
    assert healthy.emulator.request_log[-1].face == "gateway"


def test_invalid_key_answers_the_apim_body(healthy: Session) -> None:
    headers = {**healthy.headers(), "ocp-apim-subscription-key": "not-a-key"}
    response = healthy.get("sites", headers=headers)
    assert response.status_code == 401
    assert response.json() == INVALID_KEY
    assert CANARY_KEY not in response.text


def test_empty_key_counts_as_missing(healthy: Session) -> None:
    headers = {**healthy.headers(), "ocp-apim-subscription-key": ""}
    assert healthy.get("sites", headers=headers).json() == MISSING_KEY


def test_primary_and_secondary_keys_both_work(healthy: Session) -> None:
    for key in (CANARY_KEY, CANARY_SECONDARY_KEY):
        headers = {**healthy.headers(), "ocp-apim-subscription-key": key}
        assert healthy.get("sites", headers=headers).status_code == 200


def test_key_header_name_is_case_insensitive(healthy: Session) -> None:
    headers = without_key(healthy.headers())
    headers["Ocp-Apim-Subscription-Key"] = CANARY_KEY
    assert healthy.get("sites", headers=headers).status_code == 200


def test_key_as_query_parameter_is_accepted_like_apim(healthy: Session) -> None:
    headers = without_key(healthy.headers())
    response = healthy.client.get(
        healthy.api_base + "sites", headers=headers, params={"subscription-key": CANARY_KEY}
    )
    assert response.status_code == 200


def test_optional_mode_serves_without_key_but_rejects_a_wrong_one(
    start: Callable[..., Session],
) -> None:
    session = start(subscription_key_mode="optional")
    headers = without_key(session.headers())
    assert session.get("sites", headers=headers).status_code == 200
    wrong = {**headers, "ocp-apim-subscription-key": "nope"}
    assert session.get("sites", headers=wrong).json() == INVALID_KEY


def test_rate_limit_every_nth_request(start: Callable[..., Session]) -> None:
    session = start(rate_limit_every=3, rate_limit_retry_after_s=7)
    headers = session.headers()
    statuses = [session.get("sites", headers=headers).status_code for _ in range(2)]
    limited = session.get("sites", headers=headers)
    assert statuses == [200, 200]
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "7"
    assert limited.json() == {
        "statusCode": 429,
        "message": "Rate limit is exceeded. Try again in 7 seconds.",
    }
    assert session.get("sites", headers=headers).status_code == 200


def test_rate_limit_counts_only_requests_past_the_key_check(start: Callable[..., Session]) -> None:
    session = start(rate_limit_every=2)
    headers = session.headers()
    for _ in range(3):
        assert session.get("sites", headers=without_key(headers)).status_code == 401
    assert session.get("sites", headers=headers).status_code == 200
    assert session.get("sites", headers=headers).status_code == 429


def test_tunnel_down_is_a_504_after_the_key_check(start: Callable[..., Session]) -> None:
    session = start(tunnel_down=True)
    headers = session.headers()
    for path in ("sites", "customers"):
        response = session.get(path, headers=headers)
        assert response.status_code == 504
        assert "Gateway Time-out" in response.text
    assert session.get("sites", headers=without_key(headers)).json() == MISSING_KEY
    assert session.emulator.request_log[-2].face == "gateway"


def test_unknown_api_path_is_an_apim_404(healthy: Session) -> None:
    url = f"{healthy.emulator.base_url}/uk/sage300/accounts/v1/sites"
    response = healthy.client.get(url, headers=healthy.headers())
    assert response.status_code == 404
    assert response.json() == {"statusCode": 404, "message": "Resource not found"}
