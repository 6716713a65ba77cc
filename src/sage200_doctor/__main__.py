"""`python -m sage200_doctor`: the same as the `sage200-doctor` command."""

import sys

from sage200_doctor.commands import main

if __name__ == "__main__":  # not when a fleet's shard process imports it as __mp_main__
    sys.exit(main())
