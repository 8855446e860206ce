"""`python -m uniware_source`: the scheduled command (see `uniware_source.cli`)."""

from uniware_source.cli import entry

entry()
