"""Every command explains itself, and usage errors exit with 1."""

import pytest

from tests.cli.conftest import run_cli

COMMANDS = [
    [],
    ["dev"],
    ["worker"],
    ["beat"],
    ["keys"],
    ["keys", "create"],
    ["whoami"],
    ["runs"],
    ["runs", "list"],
    ["runs", "show"],
    ["runs", "cancel"],
    ["runs", "replay"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "triggerkit")
def test_help_describes_each_command_and_exits_0(command):
    result = run_cli(*command, "--help")

    assert result.code == 0
    assert result.out.startswith("usage: triggerkit")
    assert result.err == ""


def test_help_of_the_top_command_lists_commands_and_exit_codes():
    result = run_cli("--help")

    for word in ("dev", "worker", "beat", "keys", "whoami", "runs", "exit codes"):
        assert word in result.out


@pytest.mark.parametrize(
    "command",
    [[], ["runs"], ["keys"]],
    ids=["nothing", "runs without action", "keys without action"],
)
def test_a_command_without_its_action_prints_help_and_exits_1(command):
    result = run_cli(*command)

    assert result.code == 1
    assert "usage:" in result.err


@pytest.mark.parametrize(
    "args",
    [
        ["frobnicate"],
        ["runs", "list", "--limit", "0"],
        ["runs", "list", "--limit", "many"],
        ["runs", "show"],
        ["runs", "replay", "run_x", "--payload", "{not json"],
        ["keys", "create", "demo", "qa"],
        ["worker", "--loglevel", "loud"],
    ],
    ids=lambda a: " ".join(a),
)
def test_bad_arguments_exit_1_with_a_message(args):
    result = run_cli(*args)

    assert result.code == 1
    assert "error:" in result.err
    assert result.out == ""
