"""What the catalogue's data cannot say: per module, the access a role needs and a representative.

Facts and inferences are kept apart on purpose (reference §1b FAQ-ERR-403, graded [3P copy] of
Sage's FAQ "Common Error Codes"):

- FACT: a 403 usually means the role of the signed-in Sage 200 user has no access to the module
  behind the endpoint, and customers need Sales Ledger. Access is granted on Professional under
  System Administration > Roles (the role's features) and on Standard in the user's permissions
  (the FAQ links desktophelp's ManageFeaturesForRoleForm and "Users manage" pages).
- INFERENCE: every other module's access area below is the name of the Sage 200 module a person
  looks for in that feature list, matched by us from the spec file's title; Sage documents no
  such table. `documented` says which rows are facts.
- CHOICE: the representatives are well-known collections of each module that every Professional
  version in the changelog has (none has a "New endpoint" date), read when no list is configured.
"""

from __future__ import annotations

from dataclasses import dataclass

ROLE_SETTING = (
    "Professional: System Administration > Roles > the role's features; "
    "Standard: the user's permissions (Manage users)"
)
"""Where a person grants a role access to a module (FAQ-ERR-403, see the module docstring)."""


@dataclass(frozen=True)
class ModuleAccess:
    """The access area a role needs for a module, and the module's representative resource."""

    access_area: str
    documented: bool
    """True: Sage's FAQ says so. False: our inference from the module's name."""
    representative: str


MODULE_ACCESS: dict[str, ModuleAccess] = {
    "sales": ModuleAccess("Sales Ledger", True, "customers"),
    "sop": ModuleAccess("Sales Order Processing", False, "sop_orders"),
    "stock": ModuleAccess("Stock Control", False, "products"),
    "nominal": ModuleAccess("Nominal Ledger", False, "nominal_codes"),
    "purchases": ModuleAccess("Purchase Ledger", False, "suppliers"),
    "pop": ModuleAccess("Purchase Order Processing", False, "pop_orders"),
    "cash-book": ModuleAccess("Cash Book", False, "banks"),
    "price-book": ModuleAccess("Price Book", False, "price_bands"),
    "financials": ModuleAccess("Accounting System Manager", False, "currencies"),
    "commercials": ModuleAccess(
        "Sales Order Processing or Purchase Order Processing", False, "confirmation_intent_types"
    ),
    "general": ModuleAccess("Accounting System Manager", False, "company_details"),
}
