"""`sage200-doctor login`: sign in with Sage ID in a browser and save the tokens .

The authorization code flow with PKCE (S256) and a random `state`, redirected to a one-shot
server on the loopback interface (RFC 8252). Before the browser opens, the authorize URL is
fetched once without following redirects: Sage ID answers an unregistered redirect URI with an
error page and never calls back, and a user staring at that page would otherwise wait for the
timeout. The code exchange goes through `Session` like every other request; the tokens go into
the env file through `update_env_file` (atomic, 0600, backup). Nothing here prints a token, the
code, the verifier or the client secret: the only text from a server that reaches the terminal
passes the redactor first.
"""

from sage200_doctor.login.callback import (
    Callback,
    CallbackServer,
    check_callback,
    start_callback_server,
)
from sage200_doctor.login.flow import DEFAULT_TIMEOUT_S, _send_user_to, command, exchange_code
from sage200_doctor.login.messages import LoginFailed, describe_grant, preflight, token_failure
from sage200_doctor.login.plan import (
    CALLBACK_PATH,
    DEFAULT_PORT,
    Pkce,
    RedirectPlan,
    authorization_url,
    plan_redirect,
)

__all__ = [
    "CALLBACK_PATH",
    "DEFAULT_PORT",
    "DEFAULT_TIMEOUT_S",
    "Callback",
    "CallbackServer",
    "LoginFailed",
    "Pkce",
    "RedirectPlan",
    "_send_user_to",
    "authorization_url",
    "check_callback",
    "command",
    "describe_grant",
    "exchange_code",
    "plan_redirect",
    "preflight",
    "start_callback_server",
    "token_failure",
]
