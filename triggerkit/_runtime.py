"""The link between SDK calls made inside a task and the worker running it.

The worker sets the current runtime around each attempt; SDK helpers that only
make sense inside a task (`metadata`, `tags`, waits) find it here and raise
`OutsideTaskError` when there is none.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any, Protocol

from triggerkit.errors import TriggerkitError


class OutsideTaskError(TriggerkitError):
    """A helper that only works inside a running task was called elsewhere."""


class RunRuntime(Protocol):
    run_id: str
    attempt_number: int

    def update_metadata(self, operations: list[dict[str, Any]]) -> dict[str, Any]: ...

    def add_tags(self, tags: list[str]) -> list[str]: ...


current_runtime: ContextVar[RunRuntime | None] = ContextVar("triggerkit_runtime", default=None)


def require_runtime(helper: str) -> RunRuntime:
    runtime = current_runtime.get()
    if runtime is None:
        raise OutsideTaskError(
            f"{helper} can only be used inside a running task (a function declared "
            "with @task and executed by a Triggerkit worker)"
        )
    return runtime
