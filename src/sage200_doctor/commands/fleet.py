"""`sage200-doctor run --fleet FILE`: every environment of a fleet file, one merged report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sage200_doctor.commands.waiting import run_options, wait_for
from sage200_doctor.errors import UsageError


def run_fleet(args: argparse.Namespace) -> int:
    from sage200_doctor.config.fleet_file import load_fleet
    from sage200_doctor.engine.fleet import FleetRun
    from sage200_doctor.report.fleet import render_summary, worst_exit_code, write_fleet_reports

    if args.env or args.bundle or args.baseline or args.save_rotated:
        raise UsageError(
            "--fleet cannot be combined with --env, --bundle, --baseline or --save-rotated"
        )
    environments = load_fleet(Path(args.fleet))
    fleet = FleetRun(environments, run_options(args), at_once=args.workers, processes=None)
    results = wait_for(fleet)
    report_dir = Path(args.report_dir)
    write_fleet_reports(results, report_dir, fleet.redactor)
    if not args.quiet:
        print(fleet.redactor.safe_text(render_summary(results)))
        print(f"\nReports: {report_dir / 'fleet.html'}, report.json, junit.xml", file=sys.stdout)
    return worst_exit_code([result.exit_code for result in results.values()])
