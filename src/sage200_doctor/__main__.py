"""`python -m sage200_doctor`: the same as the `sage200-doctor` command."""

import sys

from sage200_doctor.commands import main

sys.exit(main())
