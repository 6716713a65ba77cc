"""Fleet runs (many sites diagnosed in one go): not measured, because they are not built yet.

Kept so that `python benchmarks/fleet.py` says so instead of failing; replace the body with a
real measurement once `sage200-doctor` can diagnose several env files in one run.

    python benchmarks/fleet.py
"""

from __future__ import annotations

import sys

NOTE = (
    "fleet: SKIPPED. Fleet runs (one sage200-doctor invocation diagnosing many sites) are not "
    "built yet, so there is nothing to measure. Until then, N sites cost N separate runs: see "
    "time_to_verdict.py for the cost of one."
)


def main() -> int:
    print(NOTE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
