"""The deploy examples (deploy/): the cron line and the systemd units say what they mean, run the
installed `uniware` command with arguments it accepts, and (where systemd is there) verify."""

from __future__ import annotations

import configparser
import shlex
import shutil
import subprocess
import sys
import tomllib
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from croniter import croniter  # dlt's own dependency

from uniware_source.cli import EXIT_LOCKED, parse_args

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def console_scripts() -> dict[str, str]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]


def check_command(words: list[str]) -> None:
    """`words` run the `uniware` console script with arguments its parser accepts."""
    program, *args = words
    assert Path(program).name == "uniware" and "uniware" in console_scripts()
    parse_args(args)  # exits (SystemExit) on an argument the command does not know


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string((DEPLOY / name).read_text(encoding="utf-8"))
    return parser


def test_cron_line_runs_the_command_every_hour_into_a_log() -> None:
    lines = [
        line
        for line in (DEPLOY / "uniware.cron").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert len(lines) == 1
    fields = lines[0].split(maxsplit=5)
    schedule, command = " ".join(fields[:5]), fields[5]
    assert croniter.is_valid(schedule)
    runs = croniter(schedule, datetime(2024, 1, 1, 0, 0))
    first, second = runs.get_next(datetime), runs.get_next(datetime)
    assert (first.minute, second - first) == (17, timedelta(hours=1))

    words = shlex.split(command)
    assert words[:3] == ["cd", "/srv/uniware", "&&"]  # the working directory holds .dlt/
    redirect = words.index(">>")
    check_command(words[3:redirect])
    assert words[redirect + 1].endswith(".log") and words[redirect + 2 :] == ["2>&1"]


def test_service_runs_the_command_once_and_treats_a_held_lock_as_no_failure() -> None:
    service = unit("uniware.service")["Service"]
    assert service["Type"] == "oneshot"
    check_command(shlex.split(service["ExecStart"]))
    assert service["SuccessExitStatus"].split() == [str(EXIT_LOCKED)]
    assert service["WorkingDirectory"] in service["ReadWritePaths"].split()
    assert service["Environment"].startswith("DLT_DATA_DIR=/var/lib/") and service["StateDirectory"]

    timer = unit("uniware.timer")
    assert timer["Timer"]["Unit"] == "uniware.service"
    assert timer["Timer"]["OnCalendar"] == "hourly"
    assert timer["Install"]["WantedBy"] == "timers.target"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_verifies_the_units(tmp_path: Path) -> None:
    """systemd's own check, with ExecStart pointed at this checkout's installed command (it
    checks that the program exists)."""
    installed = Path(sys.executable).parent / "uniware"
    assert installed.exists(), "the uniware console script is not installed in this environment"
    for name in ("uniware.service", "uniware.timer"):
        text = (DEPLOY / name).read_text(encoding="utf-8")
        (tmp_path / name).write_text(text.replace("/srv/uniware/.venv/bin/uniware", str(installed)))
    done = subprocess.run(
        ["systemd-analyze", "verify", str(tmp_path / "uniware.service"), str(tmp_path / "uniware.timer")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "uniware" not in done.stderr, done.stderr
    calendar = subprocess.run(
        ["systemd-analyze", "calendar", "hourly"], capture_output=True, text=True, timeout=60
    )
    assert calendar.returncode == 0 and "*-*-* *:00:00" in calendar.stdout


@pytest.mark.parametrize(
    ("words", "command", "pipeline"),
    [
        (["--pipeline-name", "shop", "status"], "status", "shop"),
        (["-v", "--dataset=d", "reset", "Sale Orders", "--yes"], "reset", None),
        (["status", "--pipeline-name", "shop"], "status", "shop"),
        (["--pipeline-name", "shop", "--job-code", "X"], "run", "shop"),  # flags alone: a run
    ],
)
def test_the_options_every_command_takes_go_before_or_after_it(
    words: list[str], command: str, pipeline: str | None
) -> None:
    args = parse_args(words)
    assert (args.command, args.pipeline_name) == (command, pipeline)
