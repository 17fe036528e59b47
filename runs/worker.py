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
import time
import traceback
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import connection, transaction

from apikeys.models import Environment
from observability.logs import bind_fields
from runs import engine, packets, storage
from runs.api.options import build_spec
from runs.api.schemas import TriggerOptions
from runs.capture import active_capture, capture_logs
from runs.engine import schedules, waits
from runs.engine.waits import NonDeterministicError
from runs.models import Attempt, AttemptStatus, Run, RunStatus, Waitpoint, WaitpointKind
from triggerkit import _runtime
from triggerkit import api as sdk_api
from triggerkit._runtime import (
    CONCURRENT_WAIT_HINT,
    ConcurrentWaitError,
    SuspendExecution,
    current_runtime,
)
from triggerkit._tasks import AbortTaskRunError, Task, TaskContext, registry
from triggerkit.schedules import ScheduledTask

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
    register_schedules(tasks.values())
    logger.info("registered %d tasks", len(tasks), extra={"action": "tasks_registered"})
    return len(tasks)


def register_schedules(
    tasks: Iterable[Task[Any, Any]], environments: list[Environment] | None = None
) -> None:
    """Mark the scheduled tasks and sync their declarative schedules."""
    declared = [
        schedules.DeclaredSchedule(task.id, task.cron, task.timezone, task.environments)
        for task in tasks
        if isinstance(task, ScheduledTask)
    ]
    schedules.register_declared_schedules(declared, environments)


def definition_of(task: Task[Any, Any]) -> engine.TaskDefinition:
    return engine.TaskDefinition(
        slug=task.id,
        queue_name=task.queue.name,
        queue_concurrency_limit=task.queue.concurrency_limit,
        retry=task.retry.as_dict(),
        max_duration_seconds=task.max_duration,
        ttl_seconds=task.ttl,
        file_path=inspect.getsourcefile(inspect.unwrap(task.func)) or "",
        export_name=task.func.__qualname__,
    )


def execute(run_id: str) -> None:
    """Run one attempt of a dequeued run and record how it ended."""
    started = engine.start_attempt(run_id, worker_name())
    if started is None:
        return
    run, attempt = started.run, started.attempt
    bind_fields(task=run.task_identifier, environment=started.environment_label)
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
            data, data_type = storage.store_output(run, packets.encode_json(output))
        except SuspendExecution as suspended:
            engine.suspend_attempt(attempt, suspended.step, logs)
            return
        except (NonDeterministicError, storage.OutputTooLargeError) as exc:
            engine.fail_attempt(attempt, error_of(exc), logs, retryable=False)
            return
        except SoftTimeLimitExceeded:
            if not heartbeat.interrupted:
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
    if not engine.complete_attempt(attempt, data, data_type, logs):
        storage.discard_unused(data, data_type)


def timeout_error(run: Run) -> dict[str, Any]:
    return {
        "name": "MaxDurationExceededError",
        "message": f"Run exceeded its maximum duration of {run.max_duration_seconds}s",
    }


def call_task(task: Task[Any, Any], run: Run, attempt_number: int) -> Any:
    payload = packets.decode(*storage.read(run.payload, run.payload_type))
    ctx = TaskContext(
        run_id=run.pk,
        task_id=task.id,
        attempt_number=attempt_number,
        tags=tuple(run.tags),
        metadata=run.metadata,
    )
    args = (payload, ctx) if task.takes_context else (payload,)
    runtime = WorkerRuntime(run, attempt_number)
    token = current_runtime.set(runtime)
    _runtime.active_runtime = runtime
    try:
        if task.is_async:
            return asyncio.run(task.func(*args))
        return task.func(*args)
    finally:
        current_runtime.reset(token)
        _runtime.active_runtime = None


class WorkerRuntime:
    """What SDK helpers inside a task call: the engine, directly.

    Each trigger, batch and wait is a numbered step of the run's journal; on
    re-execution a recorded step returns its result instead of acting again.
    """

    def __init__(self, run: Run, attempt_number: int) -> None:
        self.run = run
        self.run_id = run.pk
        self.attempt_number = attempt_number
        self.thread_id = threading.get_ident()
        self.step = 0
        self.busy = False

    def update_metadata(self, operations: list[dict[str, Any]]) -> dict[str, Any]:
        return engine.update_metadata(self.run_id, operations)

    def add_tags(self, tags: list[str]) -> list[str]:
        return engine.add_tags(self.run_id, tags)

    def enter_wait(self) -> None:
        if threading.get_ident() != self.thread_id:
            raise ConcurrentWaitError(f"A wait was called from another thread. {CONCURRENT_WAIT_HINT}")
        if self.busy:
            raise ConcurrentWaitError(f"This task is already waiting. {CONCURRENT_WAIT_HINT}")
        self.busy = True

    def exit_wait(self) -> None:
        self.busy = False

    def next_step(self) -> int:
        self.step += 1
        return self.step

    def trigger(self, task_id: str, payload: Any, options: dict[str, Any], *, wait: bool) -> Any:
        kind = WaitpointKind.RUN if wait else WaitpointKind.TRIGGER
        step, signature = self.next_step(), f"{kind.lower()}:{task_id}"
        waitpoint = waits.journal_step(self.run_id, step, signature)
        if waitpoint is None:
            function = "triggerAndWait" if wait else "trigger"
            spec = self.child_spec(payload, True, options, function)
            with transaction.atomic():
                child = engine.trigger_run(self.run.environment, task_id, spec).run
                waitpoint = waits.record_step(
                    self.run_id, step, kind, signature, child_run=child,
                    result=None if wait else {"id": child.pk},
                )
        return self.outcome(waitpoint)

    def batch_trigger(self, lines: list[dict[str, Any]], *, wait: bool) -> Any:
        kind = WaitpointKind.BATCH if wait else WaitpointKind.BATCH_TRIGGER
        task_ids = sorted({line["task"] for line in lines})
        step = self.next_step()
        signature = f"{kind.lower()}:{','.join(task_ids)}:{len(lines)}"
        waitpoint = waits.journal_step(self.run_id, step, signature)
        if waitpoint is None:
            function = "batchTriggerAndWait" if wait else "batchTrigger"
            items = [
                engine.BatchItem(
                    line["index"],
                    line["task"],
                    self.child_spec(line.get("payload"), "payload" in line, line.get("options", {}), function),
                )
                for line in lines
            ]
            with transaction.atomic():
                batch, _ = engine.create_batch(self.run.environment, len(items), task_ids)
                engine.add_batch_items(batch, items)
                waitpoint = waits.record_step(
                    self.run_id, step, kind, signature, batch_id=batch.pk,
                    result=None if wait else {"batchId": batch.pk, "runCount": len(items)},
                )
        return self.outcome(waitpoint)

    def wait_until(self, moment: datetime) -> None:
        step = self.next_step()
        waitpoint = waits.journal_step(self.run_id, step, "wait")
        if waitpoint is None:
            waitpoint = waits.record_step(
                self.run_id, step, WaitpointKind.DURATION, "wait", resume_at=moment
            )
        self.outcome(waitpoint)

    def outcome(self, waitpoint: Waitpoint) -> Any:
        if waitpoint.resolved_at is None:
            raise SuspendExecution(waitpoint.step)
        return waitpoint.result

    def child_spec(
        self, payload: Any, present: bool, options: dict[str, Any], function: str
    ) -> engine.TriggerSpec:
        spec = build_spec(payload, present, TriggerOptions(**options))
        spec.parent_run_id = self.run_id
        spec.root_run_id = self.run.root_run_id or self.run_id
        spec.depth = self.run.depth + 1
        spec.trigger_function = function
        return spec


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
    """Keeps one attempt's lease renewed while the task runs (see `Heartbeats`).

    Leaving the block waits for a beat of this attempt in progress, so no beat
    of it (a log save, an interrupt) can happen after the attempt moved on.
    """

    def __init__(self, attempt_id: int) -> None:
        self.attempt_id = attempt_id
        # The thread running the attempt: its captured lines are saved each beat.
        self.owner = threading.get_ident()
        self.log_target: tuple[str, int] | None = None
        self.interrupted = False

    def __enter__(self) -> Heartbeat:
        heartbeats.attach(self)
        return self

    def __exit__(self, *exc_info) -> None:
        heartbeats.detach(self)

    def beat(self) -> bool:
        """Save new log lines and renew the lease; False once the attempt must stop."""
        self.save_logs()
        try:
            return engine.heartbeat(self.attempt_id)
        except Exception:  # noqa: BLE001 - a missed beat is retried next time
            logger.exception("heartbeat failed", extra={"action": "heartbeat_failed"})
            connection.close()
            return True

    def save_logs(self) -> None:
        """Save the lines the task wrote since the last beat (the rest at its end)."""
        lines = active_capture(self.owner)
        if lines is None or not lines.pending:
            return
        try:
            if self.log_target is None:
                self.log_target = (
                    Attempt.objects.filter(pk=self.attempt_id)
                    .values_list("run_id", "number")
                    .get()
                )
            lines.save_pending(*self.log_target)
        except Exception:  # noqa: BLE001 - unsaved lines wait for the next beat or the end
            logger.exception(
                "saving log lines failed", extra={"action": "log_lines_not_saved"}
            )

    def interrupt(self) -> None:
        """Stop the task the way Celery's soft time limit does (SIGUSR1 in a
        prefork pool process): its run was cancelled, or the lease sweep gave up
        on it."""
        self.interrupted = True
        handler = signal.getsignal(signal.SIGUSR1)
        if callable(handler):
            os.kill(os.getpid(), signal.SIGUSR1)
        else:
            logger.warning(
                "cannot interrupt a cancelled run outside a prefork pool",
                extra={"action": "cancel_not_delivered"},
            )


class Heartbeats:
    """One side thread per worker process beats for every attempt it runs.

    A thread started and joined per attempt cost a no-op run a tenth of its
    time. This one starts with the process's first attempt and then wakes every
    TRIGGERKIT_HEARTBEAT_SECONDS to beat for the attempts attached at that
    moment, holding the lock while it does, so that `detach` waits for a beat
    in progress and no later beat touches a detached attempt.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.attached: dict[int, Heartbeat] = {}
        self.thread: threading.Thread | None = None

    def attach(self, heartbeat: Heartbeat) -> None:
        with self.lock:
            self.attached[heartbeat.attempt_id] = heartbeat
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(
                    target=self.run, name="triggerkit-heartbeat", daemon=True
                )
                self.thread.start()

    def detach(self, heartbeat: Heartbeat) -> None:
        with self.lock:
            self.attached.pop(heartbeat.attempt_id, None)

    def run(self) -> None:
        while True:
            time.sleep(settings.TRIGGERKIT_HEARTBEAT_SECONDS)
            with self.lock:
                for heartbeat in list(self.attached.values()):
                    if not heartbeat.beat():
                        del self.attached[heartbeat.attempt_id]
                        heartbeat.interrupt()
                if not self.attached:
                    # Between long attempts the process holds no second connection.
                    connection.close()

    def after_fork(self) -> None:
        """A forked child starts afresh: the parent's thread did not come along."""
        self.__init__()


heartbeats = Heartbeats()
os.register_at_fork(after_in_child=heartbeats.after_fork)


# Scoped idempotency keys made inside a task append the current run and attempt.
sdk_api._current_run_context = current_run_context
