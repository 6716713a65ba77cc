"""`sage200-doctor emulate`: serve the emulator (Sage ID, the gateway, the API) on loopback."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from sage200_doctor.commands.options import (
    add_chaos_options,
    add_latency_option,
    add_scenario_options,
)

CURL_RECIPE = r"""# Try it by hand (after `set -a; . FILE; set +a`):
#   TOKEN=$(curl -s -u "$SAGE200_CLIENT_ID:$SAGE200_CLIENT_SECRET" -d grant_type=refresh_token \
#     --data-urlencode "refresh_token=$SAGE200_REFRESH_TOKEN" "$SAGE200_TOKEN_URL" \
#     | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
#   curl -H "Authorization: Bearer $TOKEN" -H "ocp-apim-subscription-key: $SAGE200_SUBSCRIPTION_KEY" \
#     "${SAGE200_API_BASE_URL}sites"
#   curl -G -H "Authorization: Bearer $TOKEN" -H "ocp-apim-subscription-key: $SAGE200_SUBSCRIPTION_KEY" \
#     -H "X-Site: $SAGE200_SITE_ID" -H "X-Company: $SAGE200_COMPANY_ID" \
#     --data-urlencode "\$filter=reference eq 'A1D001'" "${SAGE200_API_BASE_URL}customers"
"""


def add_parser(commands: Any, name: str) -> None:
    parser = commands.add_parser(
        "emulate",
        help="serve the Sage 200 emulator on 127.0.0.1 until stopped",
        description="Serve the emulator (Sage ID, the API gateway and the API) until Ctrl-C, and "
        "print the .env lines that point at it. Scenarios combine with '+', e.g. --scenario "
        "no-space-bearer+customers-forbidden.",
        epilog="""\
examples:
  sage200-doctor emulate --port 0 > emulator.txt     serve on a free port; save the env lines
  sage200-doctor emulate --fault status-503@api:/sites$   GET sites answers 503
  sage200-doctor emulate --record capture.har        record every exchange for triage
""",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_scenario_options(parser)
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        metavar="ADDRESS",
        help="address to listen on (default: 127.0.0.1, this machine only)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=8200,
        metavar="N",
        help="port to listen on; 0 picks a free one (default: 8200)",
    )
    add_latency_option(parser)
    add_chaos_options(parser)
    parser.add_argument(
        "--fault",
        action="append",
        type=_fault_rule,
        metavar="KIND[@FACE][:PATH]",
        help="answer matching requests with a fault, e.g. status-503@api:/sites$ (repeatable; "
        "FACE is identity, api or any; PATH a regular expression)",
    )
    parser.add_argument(
        "--record",
        metavar="FILE.har",
        help="record every exchange as a HAR 1.2 file, written when the emulator stops",
    )
    parser.set_defaults(handler=handle)


def _fault_rule(text: str) -> Any:
    from sage200_doctor.emulator.faults import parse_fault_rule

    try:
        return parse_fault_rule(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def print_scenarios() -> int:
    from sage200_doctor.emulator import SCENARIOS

    width = max(len(name) for name in SCENARIOS)
    for name, scenario in SCENARIOS.items():
        print(f"{name:<{width}}  {scenario.description}")
    print("\nCombine faults with '+': --scenario no-space-bearer+customers-forbidden")
    return 0


def handle(args: argparse.Namespace) -> int:
    if args.list:
        return print_scenarios()
    from sage200_doctor.emulator import format_env_lines, scenario_config, serve_forever
    from sage200_doctor.emulator.config import with_chaos

    def announce(emulator: Any) -> None:
        print(f"# sage200-doctor emulator, scenario '{args.scenario}', serving {emulator.base_url}")
        print("# Save these lines as an env file and run: sage200-doctor run --env FILE")
        if args.chaos is not None:
            print(f"# chaos: seed {args.chaos}, rate {emulator.config.chaos_rate}")
        print(format_env_lines(emulator.env()))
        print(CURL_RECIPE, flush=True)

    config = with_chaos(scenario_config(args.scenario), args.chaos, args.chaos_rate)
    config = dataclasses.replace(config, faults=tuple(args.fault or ()))
    serve_forever(
        config,
        host=args.host,
        port=args.port,
        latency_ms=args.latency_ms,
        on_ready=announce,
        record=Path(args.record) if args.record else None,
    )
    return 0
