"""The link between SDK calls made inside a task and the worker running it.

The worker sets the current runtime around each execution; SDK helpers that
only make sense inside a task (`metadata`, `tags`, waits, subtasks) find it
here and raise `OutsideTaskError` when there is none.
"""

from __future__ import annotations

import threading
from contextvars import ContextVar
from datetime import datetime
from typing import Any, Protocol

from triggerkit.errors import TriggerkitError

CONCURRENT_WAIT_HINT = (
    "A task waits for one thing at a time: to run several child tasks at once "
    "and wait for all of them, use batch_trigger_and_wait."
)


class OutsideTaskError(TriggerkitError):
    """A helper that only works inside a running task was called elsewhere."""


class ConcurrentWaitError(TriggerkitError):
    """A task tried to wait on two things at once (threads, asyncio.gather)."""


class SuspendExecution(BaseException):  # noqa: N818 - a control-flow signal, not an error
    """Raised at an unresolved wait; the worker suspends the run there.

    It derives from BaseException so that `except Exception` in task code does
    not swallow it.
    """

    def __init__(self, step: int) -> None:
        super().__init__(step)
        self.step = step


class RunRuntime(Protocol):
    run_id: str
    attempt_number: int
    thread_id: int

    def update_metadata(self, operations: list[dict[str, Any]]) -> dict[str, Any]: ...

    def add_tags(self, tags: list[str]) -> list[str]: ...

    def enter_wait(self) -> None: ...

    def exit_wait(self) -> None: ...

    def trigger(
        self, task_id: str, payload: Any, options: dict[str, Any], *, wait: bool
    ) -> Any: ...

    def batch_trigger(self, lines: list[dict[str, Any]], *, wait: bool) -> Any: ...

    def wait_until(self, moment: datetime) -> None: ...


current_runtime: ContextVar[RunRuntime | None] = ContextVar("triggerkit_runtime", default=None)
# The runtime of the task this process is running, to recognise calls made from
# threads the task started (they do not inherit the context variable).
active_runtime: RunRuntime | None = None


def require_runtime(helper: str) -> RunRuntime:
    runtime = current_runtime.get()
    if runtime is not None:
        return runtime
    if active_runtime is not None and active_runtime.thread_id != threading.get_ident():
        raise ConcurrentWaitError(
            f"{helper} was called from a thread the task started. {CONCURRENT_WAIT_HINT}"
        )
    raise OutsideTaskError(
        f"{helper} can only be used inside a running task (a function declared "
        "with @task and executed by a Triggerkit worker)"
    )
