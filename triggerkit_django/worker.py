"""The Triggerkit-worker side: each Django `@task` function becomes a Triggerkit task.

The wrapper turns the run's payload back into the function's arguments, passes
a Django TaskContext when the task takes one, and records the class of an
exception it raises in the run's metadata, so that `get_result` can name it.
"""

from __future__ import annotations

import logging
from typing import Any

from django.utils import timezone

from triggerkit_django import compat

logger = logging.getLogger(__name__)


def register(task: compat.Task) -> None:
    """Declare the function as a Triggerkit task, once per task path."""
    import triggerkit
    from triggerkit._tasks import registry

    from triggerkit_django.backend import task_id_of

    task_id = task_id_of(task)
    if getattr(registry.get(task_id), "django_task", None) is not None:
        return
    queue = (
        None if task.queue_name == compat.DEFAULT_TASK_QUEUE_NAME else task.queue_name
    )
    declared = triggerkit.task(
        id=task_id, queue=queue, retry=triggerkit.Retry(max_attempts=1)
    )(runner_for(task))
    declared.django_task = task


def runner_for(task: compat.Task):
    def run_django_task(payload: Any, ctx: Any) -> Any:
        payload = payload if isinstance(payload, dict) else {}
        args = list(payload.get("args", []))
        kwargs = dict(payload.get("kwargs", {}))
        if task.takes_context:
            args.insert(
                0,
                compat.TaskContext(task_result=running_result(task, ctx, args, kwargs)),
            )
        try:
            return task.call(*args, **kwargs)
        except Exception as exc:
            record_exception(exc)
            raise

    run_django_task.__module__ = task.func.__module__
    run_django_task.__qualname__ = task.func.__qualname__
    run_django_task.__name__ = task.func.__name__
    run_django_task.__doc__ = task.func.__doc__
    return run_django_task


def running_result(
    task: compat.Task, ctx: Any, args: list, kwargs: dict
) -> compat.TaskResult:
    now = timezone.now()
    return compat.TaskResult(
        task=task,
        id=ctx.run_id,
        status=compat.TaskResultStatus.RUNNING,
        enqueued_at=None,
        started_at=now,
        last_attempted_at=now,
        finished_at=None,
        args=args,
        kwargs=kwargs,
        backend=task.backend,
        errors=[],
        worker_ids=["triggerkit"] * ctx.attempt_number,
    )


def record_exception(exc: Exception) -> None:
    from triggerkit import metadata

    from triggerkit_django.backend import EXCEPTION_KEY

    kind = type(exc)
    try:
        metadata.set(EXCEPTION_KEY, f"{kind.__module__}.{kind.__qualname__}")
    except Exception:  # noqa: BLE001 - the task's own error matters more
        logger.warning("could not record the exception class", exc_info=True)
