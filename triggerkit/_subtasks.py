"""Triggering and waiting from inside a task, through the worker's runtime."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from contextlib import contextmanager
from typing import Any, Iterator

from triggerkit._runtime import RunRuntime, require_runtime
from triggerkit.models import BatchHandle, TriggerResult
from triggerkit.results import TaskRunResult


@contextmanager
def waiting(helper: str) -> Iterator[RunRuntime]:
    runtime = require_runtime(helper)
    runtime.enter_wait()
    try:
        yield runtime
    finally:
        runtime.exit_wait()


def trigger(runtime: RunRuntime, task_id: str, payload: Any, options: dict[str, Any]) -> TriggerResult:
    from triggerkit.api import _wire_options

    record = runtime.trigger(task_id, payload, _wire_options(options), wait=False)
    return TriggerResult(id=record["id"], is_cached=False, public_access_token=None)


def batch_trigger(runtime: RunRuntime, task_id: str | None, items: Sequence[Any]) -> BatchHandle:
    from triggerkit.api import _batch_lines

    record = runtime.batch_trigger(_batch_lines(task_id, items, None, None), wait=False)
    return BatchHandle(
        batch_id=record["batchId"], run_count=record["runCount"], is_cached=False,
        public_access_token=None,
    )


def trigger_and_wait(task_id: str, payload: Any, options: dict[str, Any]) -> TaskRunResult:
    from triggerkit.api import _wire_options

    with waiting("trigger_and_wait") as runtime:
        record = runtime.trigger(task_id, payload, _wire_options(options), wait=True)
    return TaskRunResult.from_record(record)


def batch_trigger_and_wait(task_id: str | None, items: Sequence[Any]) -> list[TaskRunResult]:
    from triggerkit.api import _batch_lines

    lines = _batch_lines(task_id, items, None, None)
    with waiting("batch_trigger_and_wait") as runtime:
        records = runtime.batch_trigger(lines, wait=True)
    return [TaskRunResult.from_record(record) for record in records]


async def trigger_and_wait_async(task_id: str, payload: Any, options: dict[str, Any]) -> TaskRunResult:
    from triggerkit.api import _wire_options

    with waiting("trigger_and_wait_async") as runtime:
        # Let a concurrent wait (asyncio.gather) reach its own check first.
        await asyncio.sleep(0)
        record = runtime.trigger(task_id, payload, _wire_options(options), wait=True)
    return TaskRunResult.from_record(record)


async def batch_trigger_and_wait_async(task_id: str | None, items: Sequence[Any]) -> list[TaskRunResult]:
    from triggerkit.api import _batch_lines

    lines = _batch_lines(task_id, items, None, None)
    with waiting("batch_trigger_and_wait_async") as runtime:
        await asyncio.sleep(0)
        records = runtime.batch_trigger(lines, wait=True)
    return [TaskRunResult.from_record(record) for record in records]
