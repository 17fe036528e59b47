"""Executing one attempt of a run inside a Celery worker process."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import logging
import os
import socket
import threading
import traceback
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import close_old_connections, connection

from runs import engine, packets
from runs.capture import capture_logs
from runs.models import AttemptStatus, Run, RunStatus
from triggerkit._tasks import AbortTaskRunError, Task, TaskContext, registry

logger = logging.getLogger(__name__)

WORKER_NAME = f"{socket.gethostname()}:{os.getpid()}"


def load_task_modules() -> dict[str, Task[Any, Any]]:
    """Import the configured task modules; return the tasks they declare."""
    for module in settings.TRIGGERKIT_TASK_MODULES:
        importlib.import_module(module)
    return dict(registry)


def register_loaded_tasks() -> int:
    tasks = load_task_modules()
    engine.register_tasks([definition_of(task) for task in tasks.values()])
    logger.info("registered %d tasks", len(tasks), extra={"action": "tasks_registered"})
    return len(tasks)


def definition_of(task: Task[Any, Any]) -> engine.TaskDefinition:
    return engine.TaskDefinition(
        slug=task.id,
        queue_name=task.queue.name,
        queue_concurrency_limit=task.queue.concurrency_limit,
        retry=task.retry.as_dict(),
        max_duration_seconds=task.max_duration,
        ttl_seconds=task.ttl,
        file_path=inspect.getsourcefile(task.func) or "",
        export_name=task.func.__qualname__,
    )


def execute(run_id: str) -> None:
    """Run one attempt of a dequeued run and record how it ended."""
    started = engine.start_attempt(run_id, WORKER_NAME)
    if started is None:
        return
    run, attempt = started.run, started.attempt
    task = registry.get(run.task_identifier) or load_task_modules().get(run.task_identifier)
    if task is None:
        engine.fail_attempt(
            attempt,
            {"name": "TaskNotFound", "message": f"No worker task with id {run.task_identifier!r}"},
            [],
            retryable=False,
            final_status=RunStatus.SYSTEM_FAILURE,
        )
        return

    with Heartbeat(attempt.pk), capture_logs() as logs:
        try:
            output = call_task(task, run, attempt.number)
            data = packets.encode_json(output)
        except SoftTimeLimitExceeded:
            error = {
                "name": "MaxDurationExceededError",
                "message": f"Run exceeded its maximum duration of {run.max_duration_seconds}s",
            }
            engine.fail_attempt(
                attempt,
                error,
                logs,
                retryable=False,
                final_status=RunStatus.TIMED_OUT,
                attempt_status=AttemptStatus.TIMED_OUT,
            )
            return
        except Exception as exc:  # noqa: BLE001 - any error of user code fails the attempt
            engine.fail_attempt(
                attempt,
                error_of(exc),
                logs,
                retryable=not isinstance(exc, AbortTaskRunError),
            )
            return
    engine.complete_attempt(attempt, data, packets.JSON, logs)


def call_task(task: Task[Any, Any], run: Run, attempt_number: int) -> Any:
    payload = packets.decode(run.payload, run.payload_type)
    ctx = TaskContext(
        run_id=run.pk,
        task_id=task.id,
        attempt_number=attempt_number,
        tags=tuple(run.tags),
        metadata=run.metadata,
    )
    args = (payload, ctx) if task.takes_context else (payload,)
    if task.is_async:
        return asyncio.run(task.func(*args))
    return task.func(*args)


def error_of(exc: BaseException) -> dict[str, Any]:
    return {
        "name": type(exc).__name__,
        "message": str(exc),
        "stackTrace": "".join(traceback.format_exception(exc)),
    }


class Heartbeat:
    """Renews the attempt's lease from a side thread while the task runs."""

    def __init__(self, attempt_id: int) -> None:
        self.attempt_id = attempt_id
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.beat, daemon=True)

    def __enter__(self) -> Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stopped.set()
        self.thread.join()

    def beat(self) -> None:
        interval = settings.TRIGGERKIT_HEARTBEAT_SECONDS
        try:
            while not self.stopped.wait(interval):
                engine.heartbeat(self.attempt_id)
        except Exception:  # noqa: BLE001 - a missed beat is retried on the next tick
            logger.exception("heartbeat failed", extra={"action": "heartbeat_failed"})
        finally:
            connection.close()
