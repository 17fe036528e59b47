"""Executing one attempt of a run inside a Celery worker process."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
import os
import signal
import socket
import threading
import traceback
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import connection

from runs import engine, packets
from runs.capture import capture_logs
from runs.models import AttemptStatus, Run, RunStatus
from triggerkit import api as sdk_api
from triggerkit._runtime import current_runtime
from triggerkit._tasks import AbortTaskRunError, Task, TaskContext, registry

logger = logging.getLogger(__name__)



def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


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
    started = engine.start_attempt(run_id, worker_name())
    if started is None:
        return
    run, attempt = started.run, started.attempt
    task = registry.get(run.task_identifier) or load_task_modules().get(run.task_identifier)
    if task is None:
        error = {
            "name": "TaskNotFound",
            "message": f"No worker task with id {run.task_identifier!r}",
        }
        engine.fail_attempt(
            attempt, error, [], retryable=False, final_status=RunStatus.SYSTEM_FAILURE
        )
        return

    with Heartbeat(attempt.pk) as heartbeat, capture_logs() as logs:
        try:
            output = call_task(task, run, attempt.number)
            data = packets.encode_json(output)
        except SoftTimeLimitExceeded:
            if not heartbeat.canceled:
                engine.fail_attempt(
                    attempt,
                    timeout_error(run),
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


def timeout_error(run: Run) -> dict[str, Any]:
    return {
        "name": "MaxDurationExceededError",
        "message": f"Run exceeded its maximum duration of {run.max_duration_seconds}s",
    }


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
    token = current_runtime.set(WorkerRuntime(run.pk, attempt_number))
    try:
        if task.is_async:
            return asyncio.run(task.func(*args))
        return task.func(*args)
    finally:
        current_runtime.reset(token)


class WorkerRuntime:
    """What SDK helpers inside a task call: the engine, directly."""

    def __init__(self, run_id: str, attempt_number: int) -> None:
        self.run_id = run_id
        self.attempt_number = attempt_number

    def update_metadata(self, operations: list[dict[str, Any]]) -> dict[str, Any]:
        return engine.update_metadata(self.run_id, operations)

    def add_tags(self, tags: list[str]) -> list[str]:
        return engine.add_tags(self.run_id, tags)


def current_run_context() -> tuple[str, int] | None:
    runtime = current_runtime.get()
    return None if runtime is None else (runtime.run_id, runtime.attempt_number)


def error_of(exc: BaseException) -> dict[str, Any]:
    return {
        "name": type(exc).__name__,
        "message": str(exc),
        "stackTrace": "".join(traceback.format_exception(exc)),
    }


class Heartbeat:
    """Renews the attempt's lease from a side thread while the task runs.

    It also notices when the run was cancelled and interrupts the task the way
    Celery's soft time limit does (SIGUSR1 in a prefork pool process).
    """

    def __init__(self, attempt_id: int) -> None:
        self.attempt_id = attempt_id
        self.canceled = False
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
                try:
                    status = engine.heartbeat(self.attempt_id)
                except Exception:  # noqa: BLE001 - a missed beat is retried next time
                    logger.exception("heartbeat failed", extra={"action": "heartbeat_failed"})
                    continue
                if status == RunStatus.CANCELED and not self.stopped.is_set():
                    self.interrupt()
                    return
        finally:
            connection.close()

    def interrupt(self) -> None:
        self.canceled = True
        handler = signal.getsignal(signal.SIGUSR1)
        if callable(handler):
            os.kill(os.getpid(), signal.SIGUSR1)
        else:
            logger.warning(
                "cannot interrupt a cancelled run outside a prefork pool",
                extra={"action": "cancel_not_delivered"},
            )


# Scoped idempotency keys made inside a task append the current run and attempt.
sdk_api._current_run_context = current_run_context
