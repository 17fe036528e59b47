"""The Triggerkit tasks the bench triggers (TRIGGERKIT_TASK_MODULES=bench.tasks)."""

from __future__ import annotations

import time

from bench import stamps
from triggerkit import Queue, task

KEYED_QUEUE_LIMIT = 1


@task(id="bench-noop")
def noop(payload: object) -> None:
    return None


@task(id="bench-stamp")
def stamp(payload: dict) -> None:
    stamps.record(payload["token"])


@task(id="bench-fanout")
def fanout(payload: dict) -> dict:
    """Waits for n no-op children; reports when this segment got their results."""
    results = noop.batch_trigger_and_wait([{"i": i} for i in range(int(payload["n"]))])
    return {"ok": all(result.ok for result in results), "resumed_at": time.time()}


@task(id="bench-keyed", queue=Queue("bench-keyed", concurrency_limit=KEYED_QUEUE_LIMIT))
def keyed(payload: dict) -> None:
    time.sleep(float(payload.get("seconds", 0.005)))
