"""Plain HTML for the sign-in/consent page and the identity error page.

No JavaScript: a test drives the page with ordinary form posts. Every value that came from a
request is escaped.
"""

from __future__ import annotations

from html import escape

from starlette.responses import HTMLResponse

_STYLE = "body{font-family:sans-serif;max-width:32em;margin:3em auto}label{display:block}"


def _document(title: str, body: str, status: int) -> HTMLResponse:
    html = (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body>{body}</body></html>"
    )
    return HTMLResponse(html, status_code=status)


def error_page(title: str, detail: str, *, status: int = 400) -> HTMLResponse:
    body = f"<h1>{escape(title)}</h1><p>{escape(detail)}</p>"
    return _document(title, body, status)


def consent_page(
    *, transaction: str, client_id: str, scope: tuple[str, ...], audience: str, message: str = ""
) -> HTMLResponse:
    scopes = "".join(f"<li>{escape(item)}</li>" for item in scope)
    alert = f'<p class="error" role="alert">{escape(message)}</p>' if message else ""
    body = (
        "<h1>Sign in with Sage ID (emulator)</h1>"
        f"<p>The application <strong>{escape(client_id)}</strong> asks to access "
        f"<strong>{escape(audience)}</strong> with these permissions:</p><ul>{scopes}</ul>"
        f'{alert}<form method="post" action="/authorize/decision">'
        f'<input type="hidden" name="transaction" value="{escape(transaction)}">'
        '<label>Email <input type="email" name="username" autocomplete="username"></label>'
        '<label>Password <input type="password" name="password" '
        'autocomplete="current-password"></label>'
        '<button type="submit" name="decision" value="allow">Allow</button> '
        '<button type="submit" name="decision" value="deny">Deny</button>'
        "</form>"
    )
    return _document("Sign in with Sage ID", body, 200)
