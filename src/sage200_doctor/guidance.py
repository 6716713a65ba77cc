"""The guidance catalogue (CONTRACT.md §5): what a finding means, why it happens, what to do, and
who usually fixes it.

Checks name guidance by id; they never improvise advice. The text is our own summary of Sage's
public pages (each entry links the page it follows); only exact error strings a user will see,
such as "Authorization has been denied for this request.", are quoted.
"""

from __future__ import annotations

import difflib
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal

Owner = Literal["developer", "customer-it", "partner", "sage-support", "developer-services"]

OWNER_LABELS: Final[Mapping[Owner, str]] = MappingProxyType(
    {
        "developer": "the developer of the integration",
        "customer-it": "the customer's IT team or Sage 200 administrator",
        "partner": "the customer's Sage business partner (their Sage 200 support provider)",
        "sage-support": "Sage 200 technical support (reached through the business partner)",
        "developer-services": "Sage Developer Services",
    }
)

FAQ_URL: Final = "https://developer.sage.com/200/guides/api_faq/"
POSTMAN_URL: Final = "https://developer.sage.com/200/guides/postman/"
AUTH_URL: Final = "https://developer.sage.com/200/guides/authenticating/"
QUERY_URL: Final = "https://developer.sage.com/200/guides/query-parameters/"
DENIED: Final = "Authorization has been denied for this request."


@dataclass(frozen=True)
class Guidance:
    id: str
    title: str
    meaning: str
    causes: tuple[str, ...]
    steps: tuple[str, ...]
    owner: Owner
    url: str
    source: str
    """The name of the public page (or our own doc) this entry follows."""


class UnknownGuidanceError(KeyError):
    """An id that is not in the catalogue; says which ids come close."""

    def __str__(self) -> str:  # KeyError would repr() the message, quotes and all
        return str(self.args[0])


_ENTRIES: Final = (
    Guidance(
        id="faq.setup.configure",
        title="The Sage 200 site is not set up for API access",
        meaning=(
            "Sign-in and the gateway worked, but the Sage 200 site behind them is not ready to"
            " answer API calls: GET sites comes back empty, or the gateway gives up waiting for"
            " the site (504 Gateway Timeout)."
        ),
        causes=(
            "The Sage account used to sign in is not enabled as an API user of the site.",
            "Sage 200 Standard: the user is not assigned to the site in the Sage Provisioning"
            " Portal, or has never signed in to Sage 200 as that user.",
            "Sage 200 Professional: the site was never connected through the Native API"
            " (Microsoft Entra ID tunnelling), or that connection was lost, for example after a"
            " server move, reinstall or tenant change.",
            "Sage 200 Professional: the API is switched off in System Administration, or the user"
            " has no company access for the companies expected.",
        ),
        steps=(
            "Call GET sites as the same Sage account the integration uses and note which sites"
            " and companies it lists.",
            "Standard: check in the Sage Provisioning Portal that this user is assigned to the"
            " site, then sign in to Sage 200 once as that user.",
            "Professional: in System Administration check the API is enabled; on the user's"
            " properties tick Sage on the API tab with the user's Sage account e-mail; check the"
            " Company Access tab.",
            "Professional: if sites used to appear and no longer do, or calls end in 504, have"
            " the Native API connection checked and set up again if needed (one Microsoft 365"
            " tenant per server).",
            "These changes are made on the customer's system: raise them with the business"
            " partner who supports it (see faq.setup.contact).",
        ),
        owner="partner",
        url=FAQ_URL,
        source="Sage 200 API: Common Queries and FAQ (Setup and Configuration)",
    ),
    Guidance(
        id="faq.setup.contact",
        title="Who to contact about Sage 200 API set-up",
        meaning=(
            "A working API connection depends on several parties, and each supports only its own"
            " part. Asking the right one first saves days of back and forth."
        ),
        causes=(
            "The problem is in the customer's Sage 200 set-up (API users, roles, company access,"
            " the Native API connection), which the customer and their support provider own.",
            "Sage does not troubleshoot or debug applications that call the API, Postman"
            " collections included.",
            "Client ids, secrets and registered redirect URIs are issued and changed only by"
            " Sage Developer Services.",
        ),
        steps=(
            "Set-up questions (enabling the API, users, roles, the Native API connection) go"
            " first to the customer's support provider, usually their Sage business partner.",
            "The customer and their IT look after the server, the Microsoft 365 tenant, the"
            " network and who may sign in.",
            "Product faults go to Sage 200 technical support, normally through the business"
            " partner.",
            "Credentials (client id, secret, redirect URIs) go to Sage Developer Services.",
            "Questions about writing API clients can go to the Sage developer community"
            " (developer-community.sage.com).",
        ),
        owner="partner",
        url=FAQ_URL,
        source="Sage 200 API: Common Queries and FAQ (Setup and Configuration)",
    ),
    Guidance(
        id="faq.errors.401",
        title="401 Unauthorized from the Sage 200 API",
        meaning=(
            "The API did not accept the caller for this request. The body often reads"
            f' "{DENIED}" A 401 has several unrelated causes, so work through them in order.'
        ),
        causes=(
            "The access token has expired; tokens are short-lived, and tools such as Postman do"
            " not refresh them for you.",
            "X-Site or X-Company is missing, or holds a value that GET sites does not list for"
            " this user.",
            "The signed-in user has no access to that site or company.",
            "The Authorization header is malformed (see faq.postman.bearer-space).",
        ),
        steps=(
            "Get a fresh access token and retry at once; if that works, make the integration"
            " refresh tokens before they expire.",
            "Call GET sites with the same token; send its site_id as X-Site and its company_id"
            " as X-Company, exactly as returned.",
            "If the company you need is not in GET sites, have the user's company access"
            " checked in Sage 200.",
            "Run sage200-doctor run: its checks tell these causes apart.",
        ),
        owner="developer",
        url=FAQ_URL,
        source="Sage 200 API: Common Queries and FAQ (Common Error Codes)",
    ),
    Guidance(
        id="faq.errors.403",
        title="403 Forbidden: the user's role does not include this module",
        meaning=(
            "The token and headers were accepted, but the Sage 200 user behind the token may not"
            " use the part of Sage 200 this endpoint belongs to."
        ),
        causes=(
            "The role of the API user has no access to the module behind the endpoint; the"
            " customers endpoints need Sales Ledger.",
            "The user's role or its features were changed after the integration was set up.",
        ),
        steps=(
            "Work out which module the endpoint belongs to (customers: Sales Ledger).",
            "In Sage 200, give the role assigned to the API user access to that module"
            " (Standard: user and role management; Professional: System Administration, the"
            " features of the role).",
            "Retry the same request; sign in again if the token was issued before the change.",
        ),
        owner="customer-it",
        url=FAQ_URL,
        source="Sage 200 API: Common Queries and FAQ (Common Error Codes)",
    ),
    Guidance(
        id="faq.errors.404",
        title="404 Not Found from the Sage 200 API",
        meaning="Nothing answers at the URL and HTTP method that were called.",
        causes=(
            "The URL is wrong: a typo, a missing /v1/, or the other edition's path (/uk/sage200/"
            " is Standard, /uk/sage200extra/ is Professional).",
            "The endpoint does not support the HTTP method used.",
            "The endpoint is newer than the customer's Sage 200: Professional runs on the"
            " customer's own server and can be versions behind, while Standard is always current.",
        ),
        steps=(
            "Compare the URL and method with the API reference, character by character.",
            "Check that SAGE200_EDITION and SAGE200_API_BASE_URL match the customer's product.",
            "If the endpoint is recent, check the customer's Sage 200 version and plan an upgrade"
            " or use an older endpoint.",
        ),
        owner="developer",
        url=FAQ_URL,
        source="Sage 200 API: Common Queries and FAQ (Common Error Codes)",
    ),
    Guidance(
        id="faq.postman.bearer-space",
        title="The Authorization header is not 'Bearer', one space, then the token",
        meaning=(
            "The API reads the Authorization header strictly. Without exactly one space between"
            " Bearer and the token it answers 401 with"
            f' "{DENIED}", even though the token itself is fine.'
        ),
        causes=(
            "The header was built as Bearer immediately followed by the token.",
            "The token was pasted with quotes, a line break or extra spaces.",
            "The value already began with 'Bearer ' and the code added another.",
        ),
        steps=(
            "Send exactly: Authorization: Bearer <access token> (one space, no quotes).",
            "Put only the bare token in SAGE200_ACCESS_TOKEN; to have the header your own app"
            " sends checked, put that whole value in SAGE200_AUTHORIZATION.",
            "Trim spaces and line breaks from tokens read from files or the clipboard.",
        ),
        owner="developer",
        url=POSTMAN_URL,
        source="Using Postman with the Sage 200 RESTful API",
    ),
    Guidance(
        id="faq.postman.offline-access",
        title="No refresh token: offline_access was not requested",
        meaning=(
            "Sage ID returns a refresh token only when the sign-in asked for the offline_access"
            " scope. Without it sign-in still succeeds, but the access token cannot be renewed"
            " and the integration stops working when it expires."
        ),
        causes=(
            "The scope sent to the authorize endpoint leaves out offline_access.",
            "A tool or SDK replaced the scope list with its own default.",
        ),
        steps=(
            "Request the scope openid profile email offline_access (the SAGE200_SCOPE default).",
            "Sign in again: a token keeps the scope it was granted with.",
            "Check that the token response now contains refresh_token, and store it safely.",
        ),
        owner="developer",
        url=POSTMAN_URL,
        source="Using Postman with the Sage 200 RESTful API",
    ),
    Guidance(
        id="faq.postman.subscription-key",
        title="The developer subscription key (ocp-apim-subscription-key)",
        meaning=(
            "Sage's API gateway identifies a developer account by the subscription key sent in"
            " the ocp-apim-subscription-key header. When the gateway requires it, a missing or"
            " wrong key is refused with a 401 about the subscription key before Sage 200 sees"
            " the request. Some gateways no longer require it, so a missing key is only a warning"
            " unless the gateway refuses the call."
        ),
        causes=(
            "The header is missing or misspelt, or the key was copied with spaces.",
            "The key belongs to another developer account or a cancelled subscription.",
            "The key was regenerated and the old one is still configured.",
        ),
        steps=(
            "Copy the primary or secondary key of your developer subscription into"
            " SAGE200_SUBSCRIPTION_KEY.",
            "Send it as the ocp-apim-subscription-key header on every API request.",
            "Keep it private: it identifies your developer account, so do not share it.",
        ),
        owner="developer",
        url=POSTMAN_URL,
        source="Using Postman with the Sage 200 RESTful API",
    ),
    Guidance(
        id="faq.postman.site-company",
        title="X-Site and X-Company must come from GET sites",
        meaning=(
            "Every request for company data needs X-Site and X-Company headers naming a site and"
            " company the signed-in user can reach. The right values are the ones GET sites"
            " returns for the same token."
        ),
        causes=(
            "The values were guessed, taken from another customer, or read off a Sage 200 screen"
            " instead of from GET sites.",
            "site_id and company_id were swapped.",
            "The integration signed in as a different Sage account from the one that can see"
            " this company.",
        ),
        steps=(
            "Call GET sites with just the Authorization header (and subscription key).",
            "From the entry for the company, send site_id (a GUID) as X-Site and company_id (a"
            " whole number) as X-Company.",
            "Set SAGE200_SITE_ID and SAGE200_COMPANY_ID to those values.",
        ),
        owner="developer",
        url=POSTMAN_URL,
        source="Using Postman with the Sage 200 RESTful API",
    ),
    Guidance(
        id="faq.query.odata",
        title="$filter and the other query options",
        meaning=(
            "The API supports a subset of OData's query options. A query outside that subset is"
            " refused with 400 or returns something other than intended."
        ),
        causes=(
            "A string compared without single quotes (reference eq 'ABC001' is right).",
            "An operator or function the API does not support, or a field name not in lower"
            " snake_case.",
            "$skip used without $orderby.",
            "A date-time without the trailing Z that marks it as UTC.",
            "Spaces or quotes in the query string not URL-encoded.",
            "$top above the maximum of 5000.",
        ),
        steps=(
            "Quote strings with single quotes (OData writes a quote inside a value as two).",
            "Use only the operators and string functions (contains, startswith, endswith) the"
            " query parameters guide lists.",
            "Always pair $skip with $orderby.",
            "Let your HTTP library encode the query string rather than building it by hand.",
        ),
        owner="developer",
        url=QUERY_URL,
        source="Sage 200 API guides: Query parameters",
    ),
    Guidance(
        id="guide.auth.credentials",
        title="Sage ID refused the application's credentials",
        meaning=(
            "The token endpoint rejected the application rather than the user (invalid_client or"
            " unauthorized_client). No token will be issued until the client id, secret, client"
            " type and redirect URI agree with what Sage Developer Services registered."
        ),
        causes=(
            "A wrong client id or secret, or one issued for another environment or client.",
            "The secret is sent the way the client is not set up for: SAGE200_CLIENT_AUTH is"
            " basic (HTTP Basic header) or body (form fields).",
            "A public (desktop) client sends a secret, or a confidential (web) client sends none.",
            "The redirect URI differs from the registered one, even by a trailing slash or http"
            " against https.",
            "Credentials from the Sage ID used before February 2021, which no longer work.",
        ),
        steps=(
            "Compare SAGE200_CLIENT_ID and SAGE200_CLIENT_SECRET with the credentials you were"
            " sent, watching for spaces and quotes.",
            "Try the other SAGE200_CLIENT_AUTH method.",
            "Make SAGE200_REDIRECT_URI match a registered callback URL exactly.",
            "If everything matches, ask Sage Developer Services to confirm the client type and"
            " registered redirect URIs, or to issue new credentials.",
        ),
        owner="developer",
        url=AUTH_URL,
        source="Sage 200 API guides: Authenticating",
    ),
    Guidance(
        id="guide.auth.reconsent",
        title="The refresh token expired or was revoked: sign in again",
        meaning=(
            "Sage ID answered a refresh with invalid_grant: this refresh token can no longer be"
            " used, and only a new interactive sign-in produces another."
        ),
        causes=(
            "The refresh token reached the end of its lifetime, which is chosen when the"
            " credentials are requested (at most about 90 days) and appears to run from the"
            " original sign-in, not from the last refresh.",
            "It was already used and replaced by a newer one that was not saved.",
            "The user withdrew consent, or the credentials were reissued.",
            "It was issued to a different client id.",
        ),
        steps=(
            "Run sage200-doctor login (or your app's sign-in) and save the new refresh token.",
            "Make the integration store each new refresh token the moment it arrives.",
            "Plan a new sign-in before the refresh token's lifetime runs out.",
        ),
        owner="developer",
        url=AUTH_URL,
        source="Sage 200 API guides: Authenticating",
    ),
    Guidance(
        id="guide.network",
        title="Sage ID or the API gateway cannot be reached",
        meaning=(
            "A host name did not resolve, a connection could not be made, or the certificate"
            " presented could not be verified, so nothing beyond the network could be tested."
        ),
        causes=(
            "DNS does not resolve id.sage.com or api.columbus.sage.com.",
            "A firewall blocks outbound HTTPS (port 443).",
            "The network requires a proxy and HTTPS_PROXY is not set, or NO_PROXY excludes the"
            " Sage hosts.",
            "TLS inspection replaces Sage's certificate with one signed by an in-house CA that"
            " is not trusted here.",
            "The computer's clock is wrong, so valid certificates look expired.",
        ),
        steps=(
            "Check both host names resolve from this machine.",
            "Allow outbound HTTPS to id.sage.com and api.columbus.sage.com.",
            "If a proxy is required, set HTTPS_PROXY (and NO_PROXY for hosts that bypass it) in"
            " the environment.",
            "If TLS inspection is in use, set SAGE200_CA_BUNDLE to the organisation's root CA in"
            " PEM form; sage200-doctor never switches certificate checks off.",
        ),
        owner="customer-it",
        url="docs/network.md",
        source="sage200-doctor docs: Network, proxies and TLS inspection",
    ),
    Guidance(
        id="guide.gateway.limits",
        title="The API gateway's call limits were reached",
        meaning=(
            "API Management, in front of the Sage 200 API, refused the call because the"
            " subscription used up an allowance (a rate limit per second or minute, or a call"
            " volume quota per day or month). It is not about the Sage 200 user's role or the"
            " request's settings, and it lifts by itself."
        ),
        causes=(
            "Too many calls in a short time: a loop, parallel jobs or retries sharing one"
            " subscription key.",
            "A call-volume quota on the subscription used up for its period.",
        ),
        steps=(
            "Wait as long as the gateway said (Retry-After, or the time in its message), then"
            " run again.",
            "Spread the integration's calls out, or give parallel jobs their own subscription.",
            "If the limits are too low for the integration, ask Developer Services about the"
            " subscription's allowance.",
        ),
        owner="developer",
        url="docs/network.md",
        source="sage200-doctor docs: Network, proxies and gateway limits",
    ),
    Guidance(
        id="guide.clock",
        title="This machine's clock is wrong",
        meaning=(
            "Sage ID and the API judge tokens by Sage's clocks. This machine's clock is off by"
            " more than a minute, so a token that Sage still accepts looks expired here (or one"
            " that has just been issued looks not yet valid). The token is not the problem."
        ),
        causes=(
            "Time synchronisation is switched off or cannot reach its time server (NTP is"
            " blocked by a firewall, or w32time is stopped on Windows).",
            "A virtual machine or container restored from a snapshot kept the snapshot's time.",
            "The time zone was changed by hand instead of the clock being set right.",
        ),
        steps=(
            "Compare this machine's time with the API's Date header quoted in the finding.",
            "Switch on time synchronisation (timedatectl set-ntp true on Linux; w32tm /resync"
            " on Windows) and allow it through the firewall.",
            "Run sage200-doctor again: the warning goes once the clocks agree.",
        ),
        owner="customer-it",
        url="docs/hostile-world.md",
        source="sage200-doctor docs: When the servers answer badly (the machine's clock)",
    ),
    Guidance(
        id="guide.config",
        title="The sage200-doctor configuration needs attention",
        meaning=(
            "A SAGE200_ setting is missing, misspelt or malformed, so the checks that depend on"
            " it cannot give a meaningful answer."
        ),
        causes=(
            "A key is misspelt, so its value is ignored.",
            "A value carries typographic quotes, spaces, a line break or a pasted 'Bearer '.",
            "No token source is configured (access token, Authorization value or refresh token).",
            "An environment variable or flag overrides the value in the env file.",
            "The env file was saved in an encoding other than UTF-8.",
        ),
        steps=(
            "Fix each configuration problem listed in the report; each names its key.",
            "Compare your file with config.example.env.",
            "Re-run sage200-doctor run --only config.values to confirm.",
        ),
        owner="developer",
        url="docs/configuration.md",
        source="sage200-doctor docs: Configuration reference",
    ),
    Guidance(
        id="guide.postman.writes",
        title="A Postman request that writes was listed, not sent",
        meaning=(
            "The collection has requests other than GET (POST, PUT, PATCH, DELETE): they create,"
            " change or delete accounting data. sage200-doctor only reads, so it never sends"
            " them, and cannot say whether they would work."
        ),
        causes=(
            "The collection also holds the calls the integration makes to write data, such as"
            " creating a customer or a sales order.",
        ),
        steps=(
            "Check each listed request by hand against Sage's API reference: its path, its body"
            " and the verb the endpoint supports (an unsupported verb answers 404).",
            "Try writes on a test company first; the API returns the first error it finds in"
            " the body.",
        ),
        owner="developer",
        url="docs/postman.md",
        source="sage200-doctor docs: Checking a Postman collection",
    ),
)

GUIDANCE: Final[Mapping[str, Guidance]] = MappingProxyType({entry.id: entry for entry in _ENTRIES})


def guidance_for(guidance_id: str) -> Guidance:
    """The entry for `guidance_id`; `UnknownGuidanceError` (a KeyError) names close matches."""
    try:
        return GUIDANCE[guidance_id]
    except KeyError:
        close = difflib.get_close_matches(guidance_id, list(GUIDANCE), n=3)
        hint = f"did you mean {' or '.join(close)}?" if close else f"known: {', '.join(GUIDANCE)}"
        raise UnknownGuidanceError(f"unknown guidance id {guidance_id!r}; {hint}") from None


def render_text(entry: Guidance, *, width: int = 88) -> str:
    """Plain text for `sage200-doctor explain`."""
    lines = _wrapped(entry.title, width, indent="")
    lines += [f"({entry.id})", "", "What it means"]
    lines += _wrapped(entry.meaning, width)
    lines += ["", "Likely causes"]
    for cause in entry.causes:
        lines += _wrapped(cause, width, bullet="- ")
    lines += ["", "What to do"]
    for number, step in enumerate(entry.steps, start=1):
        lines += _wrapped(step, width, bullet=f"{number}. ")
    lines += [""]
    lines += _wrapped(f"Who usually fixes it: {OWNER_LABELS[entry.owner]}", width, indent="")
    lines += _wrapped(f"Based on: {entry.source}", width, indent="")
    lines += [f"  {entry.url}"]  # never wrapped, so it stays clickable
    return "\n".join(lines) + "\n"


def _wrapped(text: str, width: int, *, bullet: str = "", indent: str = "  ") -> list[str]:
    first = indent + bullet
    return textwrap.wrap(
        text,
        width=width,
        initial_indent=first,
        subsequent_indent=" " * max(len(first), 2),
        break_long_words=False,
        break_on_hyphens=False,
    )
