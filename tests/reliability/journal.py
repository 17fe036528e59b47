"""A journal of task executions, written by workers and read by the fault-injection tests.

Each execution appends a `start` line when the task body begins and an `end`
line when it returns, one JSON object a line, through O_APPEND so that lines
from concurrent processes never interleave. A run whose worker is killed
mid-execution leaves a `start` without its `end`.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

JOURNAL_ENV = "TRIGGERKIT_RELIABILITY_JOURNAL"


def record(event: str, run_id: str, attempt: int) -> None:
    path = os.environ.get(JOURNAL_ENV)
    if not path:
        return
    line = json.dumps(
        {
            "event": event,
            "run": run_id,
            "attempt": attempt,
            "pid": os.getpid(),
            "at": time.time(),
        }
    )
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


@dataclass
class Execution:
    run_id: str
    attempt: int
    pid: int
    started: float
    ended: float | None = None


def read(path: Path) -> dict[str, list[Execution]]:
    """Executions per run id, in the order they started."""
    executions: dict[str, list[Execution]] = defaultdict(list)
    if not path.exists():
        return executions
    open_ones: dict[tuple[str, int, int], Execution] = {}
    for line in path.read_text().splitlines():
        entry = json.loads(line)
        key = (entry["run"], entry["attempt"], entry["pid"])
        if entry["event"] == "start":
            execution = Execution(
                entry["run"], entry["attempt"], entry["pid"], entry["at"]
            )
            executions[entry["run"]].append(execution)
            open_ones[key] = execution
        elif key in open_ones:
            open_ones.pop(key).ended = entry["at"]
    return executions


def overlaps(executions: list[Execution], killed_at: dict[int, float]) -> int:
    """Count executions of one run that began before the previous one ended.

    An execution without an end was cut short: by the kill of its process
    (killed_at gives when) or, if its process was never killed, it still runs.
    """
    count = 0
    ordered = sorted(executions, key=lambda e: e.started)
    for before, after in itertools.pairwise(ordered):
        end = before.ended
        if end is None:
            end = killed_at.get(before.pid, float("inf"))
        if after.started < end:
            count += 1
    return count
