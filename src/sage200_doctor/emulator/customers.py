"""Generated customers: deterministic per company, built on first use and then kept.

A company with 100 000 customers is built in a second or two the first time it is queried; the
app itself starts without building anything, so per-scenario servers stay quick to start.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Literal

from .seed import Company

FieldType = Literal["int", "number", "string", "bool", "datetime", "object"]
Record = dict[str, object]

_STRING_FIELDS = (
    "reference",
    "name",
    "short_name",
    "status_reason",
    "account_status_type",
    "exchange_rate_type",
    "telephone_country_code",
    "telephone_area_code",
    "telephone_subscriber_number",
    "fax_country_code",
    "fax_area_code",
    "fax_subscriber_number",
    "website",
    "vat_number",
    "duns_code",
    "account_type",
    "payment_terms_basis",
    "trading_terms",
    "credit_reference",
    "analysis_code_1",
    "analysis_code_2",
    "analysis_code_3",
    "analysis_code_4",
    "analysis_code_5",
)
_INT_FIELDS = ("id", "currency_id", "country_code_id", "default_tax_code_id", "payment_terms_days")
_NUMBER_FIELDS = ("balance", "credit_limit", "early_settlement_discount_percent")
_DATETIME_FIELDS = (
    "account_opened",
    "last_credit_review",
    "date_time_created",
    "date_time_updated",
)

# Field names and types follow Sage's OpenAPI `customer` schema (reference §4.4), a subset.
CUSTOMER_FIELDS: dict[str, FieldType] = {
    **dict.fromkeys(_INT_FIELDS, "int"),
    **dict.fromkeys(_STRING_FIELDS, "string"),
    **dict.fromkeys(_NUMBER_FIELDS, "number"),
    "on_hold": "bool",
    "terms_agreed": "bool",
    **dict.fromkeys(_DATETIME_FIELDS, "datetime"),
    "main_address": "object",
}

_FIRST = (
    "Abbey",
    "Acme",
    "Atlas",
    "Beacon",
    "Bramley",
    "Castle",
    "Cedar",
    "Crown",
    "Delta",
    "Eagle",
    "Falcon",
    "Granite",
    "Harbour",
    "Highland",
    "Ivy",
    "Jubilee",
    "Kestrel",
    "Lakeside",
    "Maple",
    "Meridian",
    "Northgate",
    "Oakwood",
    "Pinnacle",
    "Quayside",
    "Riverside",
    "Sterling",
    "Summit",
    "Thistle",
    "Unity",
    "Vale",
    "Westfield",
    "York",
    "Ångström",
    "Müller",
    "Søren",
    "Ōtake",
)
_SECOND = (
    "Design",
    "Engineering",
    "Foods",
    "Garages",
    "Hardware",
    "Joinery",
    "Logistics",
    "Motors",
    "Office Supplies",
    "Plumbing",
    "Printing",
    "Stationery",
    "Textiles",
    "Timber",
    "Travel",
    "Électrique",
)
_SUFFIX = ("Ltd", "Limited", "plc", "& Co", "Services", "Trading", "Group", "LLP")
_CITIES = (
    ("Sheffield", "South Yorkshire", "S1 2HE"),
    ("Manchester", "Greater Manchester", "M1 1AE"),
    ("Newcastle upon Tyne", "Tyne and Wear", "NE1 4ST"),
    ("Bristol", "Avon", "BS1 4DJ"),
    ("Leeds", "West Yorkshire", "LS1 5AS"),
    ("Cardiff", "South Glamorgan", "CF10 1EP"),
    ("Norwich", "Norfolk", "NR1 3QU"),
)
# Naive datetimes stand for UTC throughout; isoformat() is much faster than strftime().
_EPOCH = datetime(2015, 1, 1)
# The reference prefix depends only on the first word of a generated name.
_PREFIXES = {
    word: "".join(
        c
        for c in unicodedata.normalize("NFKD", word).encode("ascii", "ignore").decode()
        if c.isalpha()
    )[:3]
    .upper()
    .ljust(3, "X")
    for word in _FIRST
}


def iso_z(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds") + "Z"


class CustomerTable:
    """The customers of one company, in id order."""

    def __init__(self, company: Company) -> None:
        self.company = company
        self._rows: list[Record] | None = None

    @property
    def rows(self) -> list[Record]:
        if self._rows is None:
            self._rows = list(_generate(self.company))
        return self._rows

    def get(self, customer_id: int) -> Record | None:
        position = customer_id - self.company.first_customer_id
        if 0 <= position < self.company.customer_count:
            return self.rows[position]
        return None


def _generate(company: Company) -> Iterator[Record]:
    # random.Random is right here: seed data must be reproducible, not unpredictable.
    rng = random.Random(company.company_id)  # noqa: S311 - deterministic seed data, not a secret
    specials = _special_customers(company)[: company.customer_count]
    yield from (_with_id(row, company, i) for i, row in enumerate(specials))
    counters: dict[str, int] = {}
    for position in range(len(specials), company.customer_count):
        first = _pick(rng, _FIRST)
        name = f"{first} {_pick(rng, _SECOND)} {_pick(rng, _SUFFIX)}"
        reference = _next_reference(_PREFIXES[first], counters, position)
        yield _with_id(_random_customer(rng, reference, name), company, position)


def _pick(rng: random.Random, options: tuple[str, ...] | list[str]) -> str:
    # Indexing by random() is several times faster than rng.choice() for 100 000 rows.
    return options[int(rng.random() * len(options))]


def _next_reference(prefix: str, counters: dict[str, int], position: int) -> str:
    """Name-based references (ABB001) while they fit in 8 characters, then K0001234."""
    count = counters.get(prefix, 0) + 1
    counters[prefix] = count
    return f"{prefix}{count:03d}" if count < 1000 else f"K{position:07d}"


def _with_id(row: Record, company: Company, position: int) -> Record:
    customer_id = company.first_customer_id + position
    address = row["main_address"]
    if isinstance(address, dict):
        address["id"] = customer_id + 1_000_000
        address["customer_id"] = customer_id
    row["id"] = customer_id  # the key is already first, so the JSON keeps Sage's field order
    return row


def _random_customer(rng: random.Random, reference: str, name: str) -> Record:
    r = rng.random
    created = _EPOCH + timedelta(seconds=int(r() * 9 * 365 * 86400))
    return _customer(
        reference=reference,
        name=name,
        balance=round(r() * 25500.0 - 500.0, 2) if r() < 0.9 else 0.0,
        on_hold=r() < 0.08,
        currency_id=(2103, 2103, 2103, 2104, 2105)[int(r() * 5)],
        telephone=("44", f"0{1000 + int(r() * 1000)}", f"{100000 + int(r() * 900000)}"),
        credit_limit=(0.0, 1000.0, 2500.0, 5000.0, 10000.0, 25000.0)[int(r() * 6)],
        hidden=r() < 0.05,
        analysis=_pick(rng, ("Trade", "Retail", "Wholesale", "Export", "")),
        created=created,
        updated=created + timedelta(seconds=int(r() * 400 * 86400)),
        city=_CITIES[int(r() * len(_CITIES))],
    )


def _customer(
    *,
    reference: str,
    name: str,
    balance: float,
    on_hold: bool = False,
    currency_id: int = 2103,
    telephone: tuple[str, str, str] = ("44", "0114", "2345678"),
    credit_limit: float = 5000.0,
    hidden: bool = False,
    analysis: str = "Trade",
    created: datetime = _EPOCH,
    updated: datetime = _EPOCH,
    city: tuple[str, str, str] = _CITIES[0],
    website: str | None = None,
    vat_number: str = "",
) -> Record:
    created_at, updated_at = iso_z(created), iso_z(updated)
    return {
        "id": 0,
        "reference": reference,
        "name": name,
        "short_name": name[:8],
        "balance": balance,
        "on_hold": on_hold,
        "status_reason": "Credit limit exceeded" if on_hold else "",
        "account_status_type": "AccountStatusHidden" if hidden else "AccountStatusActive",
        "currency_id": currency_id,
        "exchange_rate_type": "ExchangeRateSingle",
        "telephone_country_code": telephone[0],
        "telephone_area_code": telephone[1],
        "telephone_subscriber_number": telephone[2],
        "fax_country_code": "",
        "fax_area_code": "",
        "fax_subscriber_number": "",
        "website": website,
        "credit_limit": credit_limit,
        "country_code_id": 13,
        "default_tax_code_id": 1729,
        "vat_number": vat_number,
        "duns_code": "",
        "account_type": "TradingAccountTypeOpenItem",
        "early_settlement_discount_percent": 0.0,
        "payment_terms_days": 30,
        "payment_terms_basis": "PaymentDueDaysFromInvoice",
        "terms_agreed": True,
        "trading_terms": "",
        "credit_reference": "",
        "account_opened": created_at[:10] + "T00:00:00Z",
        "last_credit_review": None if on_hold else updated_at,
        "analysis_code_1": analysis,
        "analysis_code_2": "",
        "analysis_code_3": "",
        "analysis_code_4": "",
        "analysis_code_5": "",
        "main_address": _address(name, city, created_at),
        "date_time_created": created_at,
        "date_time_updated": updated_at,
    }


def _address(name: str, city: tuple[str, str, str], created_at: str) -> Record:
    return {
        "id": 0,
        "customer_id": 0,
        "address_1": "Unit 4",
        "address_2": f"{name.split()[0]} House",
        "address_3": "",
        "address_4": "",
        "city": city[0],
        "county": city[1],
        "postcode": city[2],
        "country": "United Kingdom",
        "contact_name": "Accounts Department",
        "address_country_code_id": 13,
        "date_time_created": created_at,
        "date_time_updated": created_at,
    }


def _special_customers(company: Company) -> list[Record]:
    """Hand-written records that tests and checks rely on, first in id order."""
    at = datetime(2016, 2, 23, 9, 52, 11)
    if company.company_id != 33:
        return [_customer(reference="A1D001", name="A1 Design Services (Ireland)", balance=10.0)]
    return [
        _customer(
            reference="A1D001",
            name="A1 Design Services",
            balance=1120.92,
            telephone=("44", "01742", "876234"),
            website="www.sage.co.uk",
            vat_number="GB238 3839 38",
            created=at,
            updated=at + timedelta(days=1, hours=2),
        ),
        _customer(reference="O'BRI01", name="O'Brien & Sons", balance=250.0, created=at),
        _customer(reference="CAFEZ01", name="Café Zürich Ltd", balance=0.0, currency_id=2104),
        _customer(reference="LODZ01", name="Łódź Trading", balance=-42.5, currency_id=2104),
        _customer(reference="McKay01", name="McKay Bros", balance=87.1),
        _customer(reference="ABS001", name="ABS Garages Ltd", balance=30500.0, on_hold=True),
        _customer(reference="BRO001", name="Brown's Wholesale", balance=12.0, hidden=True),
    ]
