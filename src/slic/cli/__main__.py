"""`python -m slic.cli ...`: the `slic` command (used e.g. by `torchrun -m slic.cli train ...`)."""

import sys

from .main import main

sys.exit(main())
