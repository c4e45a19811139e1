"""pflag's ``--flag=true|false`` for boolean flags (issue 11: ``--tty=false``, ``--no-trunc=false``,
``-a=false``), on rpod's real click commands."""

from __future__ import annotations

import click
import pytest

from rpod.cli.cobra import bool_values


@pytest.fixture(scope="module")
def run_cmd() -> click.Command:
    from rpod.cli.run import app

    return app.commands["run"]


def test_true_false_and_go_spellings(run_cmd: click.Command) -> None:
    assert bool_values(run_cmd, ["--tty=false", "--rm=true", "-i=1", "alpine"]) == (["--rm", "-i", "alpine"], [])
    assert bool_values(run_cmd, ["--tty=F", "--rm=TRUE", "alpine"]) == (["--rm", "alpine"], [])


def test_values_of_other_options_and_the_command_line_are_kept(run_cmd: click.Command) -> None:
    args = ["--name", "--rm=false", "alpine", "sh", "--tty=false"]  # a name that looks like a flag; the command's own
    assert bool_values(run_cmd, args) == (args, [])
    assert bool_values(run_cmd, ["--", "--tty=false"]) == (["--", "--tty=false"], [])


def test_default_true_flag_without_no_form_is_forced_false() -> None:
    from rpod.cli.events import app

    cmd = app.commands["events"]
    assert bool_values(cmd, ["--no-trunc=false", "--stream=false"]) == (["--stream=false"], ["no_trunc"])


def test_invalid_value_is_cobras_error(run_cmd: click.Command) -> None:
    with pytest.raises(click.exceptions.UsageError) as e:
        bool_values(run_cmd, ["--tty=xx", "alpine"])
    assert e.value.message == 'invalid argument "xx" for "-t, --tty" flag: strconv.ParseBool: parsing "xx": invalid syntax'
