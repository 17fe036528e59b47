"""Declaring tasks: the `@task` decorator, the registry workers read, the context."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Generic, TypeVar

from triggerkit.errors import TriggerkitError

if TYPE_CHECKING:
    from triggerkit.models import BatchHandle, TriggerResult
    from triggerkit.results import TaskRunResult

Payload = TypeVar("Payload")
Output = TypeVar("Output")
TaskT = TypeVar("TaskT", bound="Task[Any, Any]")


class AbortTaskRunError(TriggerkitError):
    """Raise inside a task to fail its run at once, without further attempts."""


@dataclass(frozen=True)
class Queue:
    """A named queue; runs on it execute at most `concurrency_limit` at a time."""

    name: str
    concurrency_limit: int | None = None


@dataclass(frozen=True)
class Retry:
    """How a failing task is attempted again.

    Attempt n waits min_delay * factor**(n-1) seconds, at most max_delay,
    varied by ±25 % when jitter is on.
    """

    max_attempts: int = 3
    factor: float = 2.0
    min_delay: float = 1.0
    max_delay: float = 30.0
    jitter: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {
            "max_attempts": self.max_attempts,
            "factor": self.factor,
            "min_delay_seconds": self.min_delay,
            "max_delay_seconds": self.max_delay,
            "jitter": self.jitter,
        }


@dataclass(frozen=True)
class TaskContext:
    """What a running task knows about its run."""

    run_id: str
    task_id: str
    attempt_number: int
    tags: tuple[str, ...] = ()
    environment: str = ""
    metadata: dict[str, Any] | None = field(default=None)


class Task(Generic[Payload, Output]):
    """A task declared with `@task`; trigger it from anywhere by its id."""

    def __init__(
        self,
        func: Callable[..., Any],
        *,
        id: str,
        queue: Queue | str | None = None,
        retry: Retry | None = None,
        max_duration: int | None = None,
        ttl: int | None = None,
    ) -> None:
        self.func = func
        self.id = id
        if isinstance(queue, str):
            queue = Queue(queue)
        self.queue = queue or Queue(f"task/{id}")
        self.retry = retry or Retry()
        self.max_duration = max_duration
        self.ttl = ttl
        self.is_async = inspect.iscoroutinefunction(func)
        self.takes_context = len(inspect.signature(func).parameters) >= 2
        self.__doc__ = func.__doc__
        self.__name__ = getattr(func, "__name__", id)

    def __repr__(self) -> str:
        return f"<Task {self.id}>"

    def __call__(self, payload: Any, ctx: TaskContext | None = None) -> Any:
        """Run the function directly, as in a unit test of the task itself."""
        if self.takes_context:
            return self.func(payload, ctx)
        return self.func(payload)

    def trigger(self, payload: Any = None, **options: Any) -> TriggerResult:
        """Trigger one run of this task; see `tasks.trigger` for the options.

        Inside another task the new run is linked to it as a child.
        """
        from triggerkit.api import tasks

        return tasks.trigger(self.id, payload, **options)

    async def trigger_async(self, payload: Any = None, **options: Any) -> TriggerResult:
        from triggerkit.api import tasks

        return await tasks.trigger_async(self.id, payload, **options)

    def batch_trigger(self, items: list[Any], **options: Any) -> BatchHandle:
        """Trigger one run per item; see `tasks.batch_trigger`."""
        from triggerkit.api import tasks

        return tasks.batch_trigger(self.id, items, **options)

    async def batch_trigger_async(self, items: list[Any], **options: Any) -> BatchHandle:
        from triggerkit.api import tasks

        return await tasks.batch_trigger_async(self.id, items, **options)

    def trigger_and_wait(self, payload: Any = None, **options: Any) -> TaskRunResult:
        """Run this task as a child and wait for its result (only inside a task).

        The waiting run is suspended and holds no worker or concurrency slot; it
        is re-executed when the child finishes, and this call then returns the
        child's result at once.
        """
        from triggerkit import _subtasks

        return _subtasks.trigger_and_wait(self.id, payload, options)

    async def trigger_and_wait_async(self, payload: Any = None, **options: Any) -> TaskRunResult:
        from triggerkit import _subtasks

        return await _subtasks.trigger_and_wait_async(self.id, payload, options)

    def batch_trigger_and_wait(self, items: list[Any]) -> list[TaskRunResult]:
        """Run one child per item and wait for all; results come in item order."""
        from triggerkit import _subtasks

        return _subtasks.batch_trigger_and_wait(self.id, items)

    async def batch_trigger_and_wait_async(self, items: list[Any]) -> list[TaskRunResult]:
        from triggerkit import _subtasks

        return await _subtasks.batch_trigger_and_wait_async(self.id, items)


# Every task declared in imported modules, by id. Workers read it at start.
registry: dict[str, Task[Any, Any]] = {}


class DuplicateTaskError(TriggerkitError):
    """Two different functions were declared with the same task id."""


def task(
    *,
    id: str,
    queue: Queue | str | None = None,
    retry: Retry | None = None,
    max_duration: int | None = None,
    ttl: int | None = None,
) -> Callable[[Callable[..., Any]], Task[Any, Any]]:
    """Declare a task.

    Args:
        id: the identifier callers trigger it by, unique in the codebase.
        queue: a `Queue` (or its name) to share; by default the task has its own.
        retry: how failed attempts are retried; by default 3 attempts.
        max_duration: seconds an attempt may run before it is stopped.
        ttl: seconds a run may wait in its queue before it expires.
    """

    def decorate(func: Callable[..., Any]) -> Task[Any, Any]:
        declared: Task[Any, Any] = Task(
            func, id=id, queue=queue, retry=retry, max_duration=max_duration, ttl=ttl
        )
        return register(declared)

    return decorate


def register(declared: TaskT) -> TaskT:
    """Add a declared task to the registry; a second function with its id is refused."""
    previous = registry.get(declared.id)
    if previous is not None and previous.func.__qualname__ != declared.func.__qualname__:
        raise DuplicateTaskError(f"task id {declared.id!r} is declared twice")
    registry[declared.id] = declared
    return declared
