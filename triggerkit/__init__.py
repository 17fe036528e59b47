"""Triggerkit's Python SDK: declare tasks, trigger them, and read their runs.

Configure it with the TRIGGER_SECRET_KEY and TRIGGER_API_URL environment
variables or with `configure(...)`. Every call has an async twin ending in
`_async`. Scheduled tasks and their cron schedules live in `schedules`.
"""

from triggerkit import metadata, schedules, tags, wait
from triggerkit._runtime import ConcurrentWaitError, OutsideTaskError
from triggerkit._tasks import AbortTaskRunError, Queue, Retry, Task, TaskContext, task
from triggerkit.api import batch, idempotency_keys, runs, tasks
from triggerkit.client import configure
from triggerkit.errors import (
    ApiConnectionError,
    ApiError,
    AuthenticationError,
    BadRequestError,
    BatchNotSealedError,
    ConfigurationError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    PollTimeoutError,
    RateLimitError,
    TriggerkitError,
    UnprocessableEntityError,
)
from triggerkit.models import Batch, BatchHandle, Run, RunError, RunStatus, TriggerResult
from triggerkit.results import TaskRunFailedError, TaskRunResult

__all__ = [
    "AbortTaskRunError",
    "ApiConnectionError",
    "ApiError",
    "AuthenticationError",
    "BadRequestError",
    "Batch",
    "BatchHandle",
    "BatchNotSealedError",
    "ConcurrentWaitError",
    "ConfigurationError",
    "ConflictError",
    "InternalServerError",
    "NotFoundError",
    "OutsideTaskError",
    "PermissionDeniedError",
    "PollTimeoutError",
    "Queue",
    "RateLimitError",
    "Retry",
    "Run",
    "RunError",
    "RunStatus",
    "Task",
    "TaskContext",
    "TaskRunFailedError",
    "TaskRunResult",
    "TriggerResult",
    "TriggerkitError",
    "UnprocessableEntityError",
    "batch",
    "configure",
    "idempotency_keys",
    "metadata",
    "runs",
    "schedules",
    "task",
    "tags",
    "tasks",
    "wait",
]
