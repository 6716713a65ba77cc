"""`sage200-doctor checks` and `explain`: what is checked, and what a finding means."""

from __future__ import annotations

import argparse
import difflib
from typing import TYPE_CHECKING, Any

from sage200_doctor.commands.options import complete_with
from sage200_doctor.errors import UsageError

if TYPE_CHECKING:
    from sage200_doctor.engine.registry import CheckSpec


def explainable_ids(**_: object) -> list[str]:
    from sage200_doctor.guidance import GUIDANCE

    return [*_explainable_checks(), *GUIDANCE]


def _explainable_checks() -> dict[str, CheckSpec]:
    """Every check a report can name: the live ones and postman.writes (Postman diagnoses)."""
    from sage200_doctor.postman.results import specs_by_id

    return specs_by_id()


def add_parser(commands: Any, name: str) -> None:
    if name == "checks":
        parser = commands.add_parser(
            "checks",
            help="list the checks in run order",
            description="Every check: its order, id, title, what it verifies and what it needs.",
        )
        parser.set_defaults(handler=handle_checks)
        return
    parser = commands.add_parser(
        "explain",
        help="what a check or a guidance id means, and who usually fixes it",
        description="Print the guidance for a check id (e.g. token.scope) or a guidance id "
        "(e.g. faq.errors.401): what it means, likely causes, what to do, who fixes it.",
    )
    target = parser.add_argument(
        "id", metavar="ID", help="a check id (`sage200-doctor checks`) or a guidance id"
    )
    complete_with(target, explainable_ids)
    parser.set_defaults(handler=handle_explain)


def handle_checks(args: argparse.Namespace) -> int:
    from sage200_doctor.engine.registry import all_checks

    for spec in all_checks():
        needs = ", ".join(spec.depends) or "-"
        print(f"{spec.order:>4}  {spec.id:<28} {spec.title}")
        print(f"      verifies: {spec.verifies}")
        print(f"      needs:    {needs}")
    return 0


def handle_explain(args: argparse.Namespace) -> int:
    from sage200_doctor.guidance import GUIDANCE, guidance_for, render_text

    specs = _explainable_checks()
    if args.id in specs:
        spec = specs[args.id]
        print(f"{spec.id} ({spec.order}): {spec.title}\nVerifies: {spec.verifies}")
        print(f"Needs: {', '.join(spec.depends) or 'nothing'}\n")
        for guidance_id in spec.guidance:
            print(render_text(guidance_for(guidance_id)) + "\n")
        return 0
    if args.id in GUIDANCE:
        print(render_text(guidance_for(args.id)))
        return 0
    known = [*specs, *GUIDANCE]
    close = difflib.get_close_matches(args.id, known, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise UsageError(
        f"unknown check or guidance id {args.id!r}.{hint} `sage200-doctor checks` lists the checks."
    )
