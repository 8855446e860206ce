"""`python -m uniware_source`: the scheduled command (see `uniware_source.cli`)."""

import sys

from uniware_source.cli import main

sys.exit(main())
