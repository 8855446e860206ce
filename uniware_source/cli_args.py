"""The `uniware` command line: its commands, their options, and the help text.

`run` is the default command, so the flag-only usage of earlier versions (`uniware --job-code X`,
`pipelines/run.py --plan`) still works.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

COMMANDS = ("run", "status", "reset", "forget")
_EPILOG = """\
commands:
  run       load what the settings say (the default: `uniware --job-code X` is `uniware run --job-code X`)
  status    the last runs (from export_jobs) and every scheduled export's cursor
  reset     move one export's cursor back (or to a date): its windows load again
  forget    forget that a job code loaded, so that a run loads it again

exit codes:
  0  every job and window ended loaded (or had loaded before)
  1  some job or window is missing data (named on stderr; see export_jobs)
  2  the run could not start or load (bad settings, refused login, destination error)
  3  another run of the same pipeline holds its lock (nothing changed)

configuration: [sources.uniware] in .dlt/config.toml and .dlt/secrets.toml in the working
directory, and SOURCES__UNIWARE__* environment variables (which win). dlt keeps the pipeline's
working state under ~/.dlt/pipelines/<pipeline name> (/var/dlt as root; DLT_DATA_DIR moves it).
"""


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--destination", default=None, help="dlt destination (default duckdb)")
    parser.add_argument("--pipeline-name", default=None, help="dlt pipeline name (default uniware)")
    parser.add_argument(
        "--dataset", default="uniware_data", help="destination dataset/schema (default uniware_data)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress and details")
    parser.add_argument("--log-file", default=None, metavar="PATH", help="also write the log (INFO) to PATH")


def _run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--job-code", action="append", dest="job_codes", help="a job code to load (repeatable)"
    )
    parser.add_argument("--report", default=None, help="Uniware report name (exportJobTypeName)")
    parser.add_argument("--table-name", default=None, help="destination table for the report rows")
    parser.add_argument(
        "--force-reload", action="store_true", help="load job codes again even if loaded before"
    )
    parser.add_argument("--plan", action="store_true", help="print the jobs a run would create, create none")
    parser.add_argument(
        "--backfill",
        nargs=2,
        metavar=("START", "END"),
        help="load local dates START..END (inclusive) for every export without moving the cursors",
    )
    parser.add_argument("--demo", action="store_true", help="run against an in-process Uniware emulator")
    parser.add_argument(
        "--progress",
        choices=("log", "tqdm", "enlighten", "none"),
        default=None,
        help="live progress through dlt's collector (default: log on a terminal or with -v, else none)",
    )


# the options every command takes that are followed by a value (see _common)
_SHARED_WITH_VALUE = ("--destination", "--pipeline-name", "--dataset", "--log-file")


def _command_first(args: list[str]) -> list[str]:
    """The command moved before the options every command takes, where those come first
    (`uniware --pipeline-name shop status` is `uniware status --pipeline-name shop`)."""
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in COMMANDS:
            return [arg, *args[:i], *args[i + 1 :]]
        if arg in _SHARED_WITH_VALUE:
            i += 2
        elif arg.partition("=")[0] in _SHARED_WITH_VALUE or arg in ("-v", "--verbose"):
            i += 1
        else:
            break
    return args


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    args = _command_first(list(sys.argv[1:] if argv is None else argv))
    if not args or (args[0] not in COMMANDS and args[0] not in ("-h", "--help")):
        args.insert(0, "run")  # the flag-only usage of earlier versions
    parser = argparse.ArgumentParser(
        prog="uniware",
        description="Load Unicommerce Uniware export jobs with dlt.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="{run,status,reset,forget}")
    run_parser = commands.add_parser(
        "run",
        help="load (the default command)",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _run_options(run_parser)
    status = commands.add_parser("status", help="the last runs and every export's cursor")
    status.add_argument("--runs", type=int, default=10, help="how many runs to show (default 10)")
    reset = commands.add_parser("reset", help="reset one export's cursor")
    reset.add_argument("export", help="the export's report name or table name (as `status` shows)")
    reset.add_argument(
        "--to", default=None, metavar="DATE", help="local date to restart from (default: start_date)"
    )
    reset.add_argument("--facility", default=None, help="only this facility's cursor")
    reset.add_argument("--yes", action="store_true", help="do it without asking (needed when not a terminal)")
    forget = commands.add_parser("forget", help="forget a loaded job code, so that it loads again")
    forget.add_argument("job_code")
    forget.add_argument(
        "--yes", action="store_true", help="do it without asking (needed when not a terminal)"
    )
    for sub in (run_parser, status, reset, forget):
        _common(sub)
    return parser.parse_args(args)
