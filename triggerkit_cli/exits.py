"""Exit codes of the `triggerkit` command, which scripts may rely on."""

from __future__ import annotations

OK = 0
# Bad arguments or missing configuration (no secret key, unknown task module).
USAGE = 1
# The run, project or environment named does not exist.
NOT_FOUND = 2
# The secret key was refused (401) or may not do this (403).
AUTH = 3
# The server failed (5xx), could not be reached, or a process could not start or
# stopped on its own.
UNAVAILABLE = 4
# The server refused the request as invalid (400, 409, 413, 422).
REJECTED = 5
# `runs show --wait --timeout` gave up before the run finished.
TIMEOUT = 6
# Stopped with Ctrl-C before the command finished.
INTERRUPTED = 130


class CliError(Exception):
    """A failure the command reports in one line and turns into an exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code
