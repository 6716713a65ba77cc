"""OData subset on GET customers: $filter, $orderby, $top, $skip, $select, $count.

Filter results are compared with the same predicate written in Python over the full collection,
so each case proves the server returns exactly the matching customers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from .emulator_support import Session

Row = dict[str, Any]
INVALID = "The query specified in the URI is not valid. "


@pytest.fixture(scope="module")
def headers(healthy: Session) -> dict[str, str]:
    return healthy.headers()


@pytest.fixture(scope="module")
def everyone(healthy: Session, headers: dict[str, str]) -> list[Row]:
    rows: list[Row] = healthy.get("customers", headers=headers, **{"$top": "5000"}).json()
    assert len(rows) == 300
    return rows


def query(session: Session, headers: dict[str, str], **params: str) -> httpx.Response:
    return session.get("customers", headers=headers, **{f"${k}": v for k, v in params.items()})


def ids(rows: list[Row]) -> list[int]:
    return [row["id"] for row in rows]


FILTER_CASES: list[tuple[str, Callable[[Row], bool]]] = [
    ("reference eq 'A1D001'", lambda r: r["reference"] == "A1D001"),
    ("reference eq 'a1d001'", lambda r: r["reference"] == "A1D001"),
    ("reference eq 'O''BRI01'", lambda r: r["reference"] == "O'BRI01"),
    ("name eq 'O''Brien & Sons'", lambda r: r["name"] == "O'Brien & Sons"),
    ("name eq 'Café Zürich Ltd'", lambda r: r["name"] == "Café Zürich Ltd"),
    ("contains(name, 'zürich')", lambda r: "zürich" in r["name"].casefold()),
    ("startswith(name, 'Łódź')", lambda r: r["name"].startswith("Łódź")),
    ("endswith(reference, '01')", lambda r: r["reference"].endswith("01")),
    ("contains(name, '''')", lambda r: "'" in r["name"]),
    ("reference eq 'mckay01'", lambda r: r["reference"] == "McKay01"),
    (
        "reference ne 'A1D001' and balance eq 1120.92",
        lambda r: r["id"] != 27825 and r["balance"] == 1120.92,
    ),
    ("balance ge 1120.92 and balance le 1120.92", lambda r: r["balance"] == 1120.92),
    ("balance gt 1000 and on_hold eq false", lambda r: r["balance"] > 1000 and not r["on_hold"]),
    ("balance lt 0", lambda r: r["balance"] < 0),
    ("on_hold", lambda r: r["on_hold"]),
    ("not on_hold", lambda r: not r["on_hold"]),
    ("on_hold eq true or credit_limit eq 0", lambda r: r["on_hold"] or r["credit_limit"] == 0),
    (
        "(balance lt 0 or balance gt 20000) and currency_id ne 2103",
        lambda r: (r["balance"] < 0 or r["balance"] > 20000) and r["currency_id"] != 2103,
    ),
    (
        "not (currency_id eq 2103 or on_hold eq true)",
        lambda r: not (r["currency_id"] == 2103 or r["on_hold"]),
    ),
    ("date_time_created lt 2016-02-24", lambda r: r["date_time_created"] < "2016-02-24"),
    (
        "date_time_updated gt 2016-02-24T09:52:11.452Z",
        lambda r: r["date_time_updated"] > "2016-02-24T09:52:11.452Z",
    ),
    (
        "date_time_created ge 2016-02-23T09:52:11Z and date_time_created le 2016-02-23T09:52:11Z",
        lambda r: r["date_time_created"] == "2016-02-23T09:52:11Z",
    ),
    ("last_credit_review eq null", lambda r: r["last_credit_review"] is None),
    ("last_credit_review ne null", lambda r: r["last_credit_review"] is not None),
    ("website eq 'www.sage.co.uk'", lambda r: r["website"] == "www.sage.co.uk"),
    (
        "account_status_type eq 'AccountStatusHidden'",
        lambda r: r["account_status_type"] == "AccountStatusHidden",
    ),
    ("id eq 27825 or id eq 27826", lambda r: r["id"] in (27825, 27826)),
    ("reference eq 'NOSUCH01'", lambda r: False),
]


@pytest.mark.parametrize(
    ("expression", "predicate"), FILTER_CASES, ids=[c[0] for c in FILTER_CASES]
)
def test_filter_returns_exactly_the_matching_customers(
    healthy: Session,
    headers: dict[str, str],
    everyone: list[Row],
    expression: str,
    predicate: Callable[[Row], bool],
) -> None:
    response = query(healthy, headers, filter=expression, top="5000")
    assert response.status_code == 200, response.text
    assert ids(response.json()) == ids([row for row in everyone if predicate(row)])


def test_reference_filter_returns_exactly_a1d001(healthy: Session, headers: dict[str, str]) -> None:
    (customer,) = query(healthy, headers, filter="reference eq 'A1D001'").json()
    assert customer["id"] == 27825
    assert customer["name"] == "A1 Design Services"


def test_the_seed_covers_what_the_cases_need(everyone: list[Row]) -> None:
    assert any(row["on_hold"] for row in everyone)
    assert any(row["last_credit_review"] is None for row in everyone)
    assert any(row["balance"] < 0 for row in everyone)
    assert len({row["reference"] for row in everyone}) == len(everyone)
    assert all(len(row["reference"]) <= 8 for row in everyone)


BAD_FILTERS = [
    "reference eq 'A1D001",
    'reference eq "A1D001"',
    "nosuchfield eq 1",
    "date_time_created gt 2016-02-23T10:00:00",
    "date_time_created gt 2016-02-30",
    "reference eq 5",
    "balance eq 'x'",
    "on_hold gt true",
    "balance",
    "tolower(name) eq 'x'",
    "contains(name)",
    "reference eq",
    "(reference eq 'A1D001'",
    "reference eq 'A1D001')",
    "reference EQ 'A1D001'",
    "id has 1",
    "main_address eq null",
    "",
]


@pytest.mark.parametrize("expression", BAD_FILTERS)
def test_bad_filters_are_400_with_the_aspnet_body(
    healthy: Session, headers: dict[str, str], expression: str
) -> None:
    response = query(healthy, headers, filter=expression)
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"Message"}
    assert body["Message"].startswith(INVALID)
    assert len(body["Message"]) > len(INVALID)


def test_strings_case_sensitivity_is_a_setting(start: Callable[..., Session]) -> None:
    session = start(strings_case_sensitive=True)
    headers = session.headers()
    assert query(session, headers, filter="reference eq 'a1d001'").json() == []
    assert len(query(session, headers, filter="reference eq 'A1D001'").json()) == 1


# $orderby


def test_orderby_name_is_case_insensitive(healthy: Session, headers: dict[str, str]) -> None:
    rows = query(healthy, headers, orderby="name", top="5000").json()
    names = [row["name"].casefold() for row in rows]
    assert names == sorted(names)


def test_orderby_several_keys(
    healthy: Session, headers: dict[str, str], everyone: list[Row]
) -> None:
    rows = query(healthy, headers, orderby="currency_id desc, balance asc", top="5000").json()
    expected = sorted(everyone, key=lambda r: (-r["currency_id"], r["balance"]))
    assert ids(rows) == ids(expected)


def test_orderby_puts_nulls_first(healthy: Session, headers: dict[str, str]) -> None:
    rows = query(healthy, headers, orderby="last_credit_review asc", top="5").json()
    assert rows[0]["last_credit_review"] is None


@pytest.mark.parametrize("orderby", ["nosuch", "name sideways", "name asc desc", "main_address"])
def test_bad_orderby_is_400(healthy: Session, headers: dict[str, str], orderby: str) -> None:
    response = query(healthy, headers, orderby=orderby)
    assert response.status_code == 400
    assert response.json()["Message"].startswith(INVALID)


def test_orderby_ignored_setting(start: Callable[..., Session]) -> None:
    session = start("orderby-ignored")
    rows = query(session, session.headers(), orderby="id desc").json()
    assert ids(rows) == sorted(ids(rows))


# $top and $skip


def test_top_defaults_to_500_and_caps_at_5000(start: Callable[..., Session]) -> None:
    session = start(customer_count=5100)
    headers = session.headers()
    assert len(query(session, headers).json()) == 500
    assert len(query(session, headers, top="7").json()) == 7
    assert len(query(session, headers, top="0").json()) == 0
    assert len(query(session, headers, top="6000").json()) == 5000


def test_top_over_max_can_be_an_error(start: Callable[..., Session]) -> None:
    session = start(top_over_max="error")
    response = query(session, session.headers(), top="5001")
    assert response.status_code == 400
    assert response.json()["Message"].startswith(INVALID)
    assert query(session, session.headers(), top="5000").status_code == 200


@pytest.mark.parametrize("top", ["-1", "ten", "1.5", ""])
def test_bad_top_is_400(healthy: Session, headers: dict[str, str], top: str) -> None:
    assert query(healthy, headers, top=top).status_code == 400


def test_skip_without_orderby_is_400(healthy: Session, headers: dict[str, str]) -> None:
    response = query(healthy, headers, skip="10")
    assert response.status_code == 400
    assert response.json()["Message"].startswith(INVALID)
    assert "$orderby" in response.json()["Message"]


def test_skip_with_orderby_pages(
    healthy: Session, headers: dict[str, str], everyone: list[Row]
) -> None:
    page = query(healthy, headers, orderby="id asc", skip="25", top="10").json()
    assert ids(page) == ids(everyone)[25:35]


# $select, $count, $expand, misc


def test_select_returns_only_those_fields(healthy: Session, headers: dict[str, str]) -> None:
    rows = query(healthy, headers, select="id,reference, name", top="3").json()
    assert all(set(row) == {"id", "reference", "name"} for row in rows)


def test_select_unknown_field_is_400(healthy: Session, headers: dict[str, str]) -> None:
    assert query(healthy, headers, select="id,shoe_size").status_code == 400


def test_count_is_a_bare_integer_by_default(
    healthy: Session, headers: dict[str, str], everyone: list[Row]
) -> None:
    response = query(healthy, headers, count="true", filter="on_hold", top="1")
    assert response.json() == sum(1 for row in everyone if row["on_hold"])


def test_count_envelope_shape(start: Callable[..., Session]) -> None:
    session = start(count_shape="envelope")
    body = query(session, session.headers(), count="true", top="2").json()
    assert body["@odata.count"] == 300
    assert len(body["value"]) == 2


def test_count_header_shape(start: Callable[..., Session]) -> None:
    session = start(count_shape="header")
    response = query(session, session.headers(), count="true", top="2")
    assert response.headers["x-total-count"] == "300"
    assert len(response.json()) == 2


def test_count_false_is_the_plain_collection(healthy: Session, headers: dict[str, str]) -> None:
    assert isinstance(query(healthy, headers, count="false", top="1").json(), list)
    assert query(healthy, headers, count="yes").status_code == 400


def test_expand_known_objects_only(healthy: Session, headers: dict[str, str]) -> None:
    assert query(healthy, headers, expand="main_address", top="1").status_code == 200
    assert query(healthy, headers, expand="secret_stuff").status_code == 400


def test_unknown_or_repeated_options_are_400(healthy: Session, headers: dict[str, str]) -> None:
    assert query(healthy, headers, search="x").status_code == 400
    url = healthy.api_base + "customers?$top=1&$top=2"
    assert healthy.client.get(url, headers=headers).status_code == 400


def test_plain_parameters_are_ignored(healthy: Session, headers: dict[str, str]) -> None:
    response = healthy.get("customers", headers=headers, cache_buster="1", **{"$top": "1"})
    assert response.status_code == 200


def test_filter_ignored_setting(start: Callable[..., Session]) -> None:
    session = start("filter-ignored")
    rows = query(session, session.headers(), filter="reference eq 'A1D001'").json()
    assert len(rows) == 300


def test_percent_encoded_filter(healthy: Session, headers: dict[str, str]) -> None:
    url = healthy.api_base + "customers?$filter=reference%20eq%20%27O%27%27BRI01%27"
    (row,) = healthy.client.get(url, headers=headers).json()
    assert row["name"] == "O'Brien & Sons"
