"""Entry point of the `triggerkit` console script: parse, dispatch, exit with a code."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from triggerkit_cli import exits
from triggerkit_cli.exits import CliError

DESCRIPTION = """\
Triggerkit from the command line.

Run the platform (dev, worker, beat), create secret keys (keys create), and read
or act on runs through the HTTP API (runs, whoami).

exit codes:
  0  success
  1  bad arguments or missing configuration
  2  the run, project or environment does not exist
  3  the secret key was refused
  4  server error, server unreachable, or a process could not start
  5  the server refused the request as invalid
  6  gave up waiting (runs show --wait --timeout)
  130  interrupted
"""


class Parser(argparse.ArgumentParser):
    """argparse with usage errors on exit code 1, as docs/cli.md promises."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(exits.USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> Parser:
    from triggerkit_cli import remote, server

    parser = Parser(
        prog="triggerkit",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    server.add_commands(commands)
    remote.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        # `triggerkit` or `triggerkit runs` alone: show what can follow.
        (getattr(args, "command_parser", None) or parser).print_help(sys.stderr)
        return exits.USAGE

    try:
        return handler(args) or exits.OK
    except CliError as exc:
        print(f"triggerkit: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("triggerkit: interrupted", file=sys.stderr)
        return exits.INTERRUPTED
