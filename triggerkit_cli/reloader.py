"""Run a command and restart it whenever a Python file under the watched paths changes.

`triggerkit dev` wraps its worker in this, so that edits to task modules take
effect without restarting the web server and beat:

    python -m triggerkit_cli.reloader --watch examples -- celery -A config worker

It polls file modification times once a second, which works the same on every
file system (network mounts and containers included) and needs no extra package.
If the command exits on its own (a syntax error in a task module, say), the
reloader says so and starts it again at the next change. SIGTERM, SIGINT and
SIGHUP stop the command, then the reloader.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from contextlib import suppress
from pathlib import Path
from typing import TextIO

POLL_INTERVAL_SECONDS = 1.0
TICK_SECONDS = 0.2
# Shorter than the launcher's own grace, so that a stop always goes through us.
STOP_GRACE_SECONDS = 10
IGNORED_DIRS = frozenset(
    {".git", ".venv", "venv", "node_modules", "__pycache__", "var"}
)
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def snapshot(paths: Iterable[Path]) -> dict[str, int]:
    """Map every .py file under the paths (or a path that is a file) to its mtime."""
    seen: dict[str, int] = {}
    for path in paths:
        if path.is_file():
            seen[str(path)] = mtime(path)
            continue
        for folder, dirs, files in os.walk(path):
            dirs[:] = [name for name in dirs if name not in IGNORED_DIRS]
            for name in files:
                if name.endswith(".py"):
                    file = Path(folder, name)
                    seen[str(file)] = mtime(file)
    return seen


def mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return -1  # vanished between the listing and the stat


def changed(before: dict[str, int], after: dict[str, int]) -> list[str]:
    return sorted(
        path
        for path in before.keys() | after.keys()
        if before.get(path) != after.get(path)
    )


class Reloader:
    def __init__(
        self, command: Sequence[str], paths: Sequence[Path], out: TextIO
    ) -> None:
        self.command = list(command)
        self.paths = list(paths)
        self.out = out
        self.child: subprocess.Popen[bytes] | None = None
        self.exit_reported = False
        self.stopping = False

    def run(self) -> int:
        for sig in STOP_SIGNALS:
            signal.signal(sig, self.on_signal)
        state = snapshot(self.paths)
        self.start()
        try:
            while not self.stopping:
                self.sleep(POLL_INTERVAL_SECONDS)
                self.report_exit()
                current = snapshot(self.paths)
                files = changed(state, current)
                if files and not self.stopping:
                    state = current
                    self.say(f"{files[0]} changed; restarting the worker")
                    self.stop()
                    self.start()
        finally:
            self.stop()
        return 0

    def on_signal(self, signum: int, frame: object) -> None:
        self.stopping = True

    def sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(TICK_SECONDS)

    def start(self) -> None:
        # Its own session, so that stopping it reaches its pool processes too.
        self.child = subprocess.Popen(self.command, start_new_session=True)
        self.exit_reported = False

    def report_exit(self) -> None:
        if self.child is None or self.exit_reported or self.child.poll() is None:
            return
        self.exit_reported = True
        self.say(
            f"the worker exited (code {self.child.returncode}); "
            "it restarts at the next change of a watched file"
        )

    def stop(self) -> None:
        child, self.child = self.child, None
        if child is None or child.poll() is not None:
            return
        with suppress(ProcessLookupError):
            child.send_signal(signal.SIGTERM)
        try:
            child.wait(STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            self.say("the worker did not stop in time; killing it")
        with suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
        child.wait()

    def say(self, message: str) -> None:
        self.out.write(f"reloader: {message}\n")
        self.out.flush()


def command_line(command: Sequence[str], paths: Sequence[Path]) -> list[str]:
    """The argv that runs `command` under the reloader, watching `paths`."""
    watch = [arg for path in paths for arg in ("--watch", str(path))]
    return [sys.executable, "-m", "triggerkit_cli.reloader", *watch, "--", *command]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m triggerkit_cli.reloader")
    parser.add_argument("--watch", action="append", type=Path, required=True)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    return Reloader(command, args.watch, sys.stdout).run()


if __name__ == "__main__":
    raise SystemExit(main())
