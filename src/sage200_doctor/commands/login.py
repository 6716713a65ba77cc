"""`sage200-doctor login`: sign in with Sage ID in a browser and save the tokens (docs/login.md)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

DEFAULT_TIMEOUT_S = 300.0


def add_parser(commands: Any, name: str) -> None:
    parser = commands.add_parser(
        "login",
        help="sign in with Sage ID in a browser and save the tokens in the env file",
        description="Authorization code sign-in with PKCE and a loopback redirect; the refresh "
        "token is written into the env file (mode 0600, previous file kept as .bak).",
    )
    parser.add_argument(
        "--env", metavar="FILE", help="env file to read and update (default: ./.env, created)"
    )
    parser.add_argument(
        "--no-browser", action="store_true", help="print the sign-in address, open no browser"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help=f"how long to wait for the sign-in (default: {DEFAULT_TIMEOUT_S:g})",
    )
    parser.add_argument(
        "--port",
        type=int,
        metavar="N",
        help="local port the sign-in comes back to (default: the port of SAGE200_REDIRECT_URI, "
        "else 8765)",
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from sage200_doctor.login import command

    return command(
        Path(args.env) if args.env else None,
        no_browser=args.no_browser,
        timeout_s=DEFAULT_TIMEOUT_S if args.timeout is None else args.timeout,
        port=args.port,
    )
