"""Deterministic seed data: sites, companies, and the seeded API user.

Customers are generated in `customers.py`, lazily, the first time a company's data is asked for.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_COMPANY_ID = 33
# A well-formed GUID and company id that appear in no sites list (for the *-not-listed scenarios).
UNLISTED_SITE_ID = "d2a7e9f4-1b3c-4d5e-8f6a-7b8c9d0e1f2a"
UNLISTED_COMPANY_ID = 999

USER_SUB = "auth0|5f3c6e2a9b1d4c0012345678"
CURRENT_USER: dict[str, object] = {
    "id": 1,
    "logon_name": "apiuser",
    "friendly_name": "API User",
    "email_address": "api.user@example.com",
    "is_web_user": True,
    "last_logon_date_time": "2024-05-01T08:30:00Z",
}


@dataclass(frozen=True)
class Company:
    company_id: int
    company_name: str
    customer_count: int
    first_customer_id: int  # customer ids are first_customer_id + position


@dataclass(frozen=True)
class Site:
    site_id: str
    site_name: str
    site_short_name: str
    tenant_id: int
    companies: tuple[Company, ...]


def build_sites(default_customer_count: int) -> tuple[Site, ...]:
    """Three sites, five companies; company 33 is the default and holds A1D001 (id 27825)."""
    return (
        Site(
            "6800e15c-6a18-4a3d-bc22-a09f89ac2d01",
            "Stationery & Computer Mart",
            "SCM",
            1001,
            (
                Company(33, "Stationery & Computer Mart UK", default_customer_count, 27825),
                Company(13, "Stationery & Computer Mart Ireland", 60, 51000),
            ),
        ),
        Site(
            "2f0b5a8e-4c1d-4f7a-9a57-3e1c2d9b7a10",
            "Bell Engineering",
            "BELL",
            1002,
            (
                Company(7, "Bell Engineering Ltd", 40, 61000),
                Company(21, "Bell Engineering Services", 25, 62000),
            ),
        ),
        Site(
            "b3c9d8e1-7f2a-4e6b-8c5d-1a2b3c4d5e6f",
            "Demo Data",
            "DEMO",
            1003,
            (Company(5, "Demodata Ltd", 12, 71000),),
        ),
    )


def find_company(sites: tuple[Site, ...], site_id: str, company_id: int) -> Company | None:
    """The company on that site; GUIDs compare case-insensitively, as .NET parses them."""
    for site in sites:
        if site.site_id.lower() != site_id.strip().lower():
            continue
        for company in site.companies:
            if company.company_id == company_id:
                return company
    return None


def default_site() -> Site:
    return build_sites(0)[0]


def site_rows(sites: tuple[Site, ...], *, company_id_as_string: bool) -> list[dict[str, object]]:
    """GET sites: one entry per company, the site fields repeated."""
    rows: list[dict[str, object]] = []
    for site in sites:
        for company in site.companies:
            company_id: object = (
                str(company.company_id) if company_id_as_string else company.company_id
            )
            rows.append(
                {
                    "company_id": company_id,
                    "company_name": company.company_name,
                    "site_id": site.site_id,
                    "site_name": site.site_name,
                    "site_short_name": site.site_short_name,
                    "tenant_id": site.tenant_id,
                }
            )
    return rows
