"""Tasks for the fault-injection tests in tests/reliability/.

Workers load this module when their TRIGGERKIT_TASK_MODULES names it; the test
suite's own process never imports it, so these tasks exist only in the stacks
the reliability tests start.
"""

from __future__ import annotations

import time

from tests.reliability import journal
from triggerkit import Retry, TaskContext, task


@task(
    id="journaled-echo",
    retry=Retry(max_attempts=5, min_delay=0.2, factor=2, max_delay=1),
)
def journaled_echo(payload: dict, ctx: TaskContext) -> dict:
    """Return the payload's `echo`, journaling when this execution began and ended."""
    journal.record("start", ctx.run_id, ctx.attempt_number)
    time.sleep(float((payload or {}).get("seconds", 0)))
    journal.record("end", ctx.run_id, ctx.attempt_number)
    return {"echo": (payload or {}).get("echo"), "attempt": ctx.attempt_number}
