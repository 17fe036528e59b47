"""Tasks used only by the test suite."""

from __future__ import annotations

import time

from triggerkit import Queue, TaskContext, task


@task(id="record-interval", queue=Queue("limited", concurrency_limit=3))
def record_interval(payload: dict, ctx: TaskContext) -> dict:
    """Sleep a little and report when it ran, so tests can check overlaps."""
    started = time.time()
    time.sleep(float(payload.get("seconds", 0.2)))
    return {"started": started, "finished": time.time(), "run": ctx.run_id}


@task(id="echo")
def echo(payload: object) -> object:
    return payload
