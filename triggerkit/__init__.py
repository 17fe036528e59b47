"""Triggerkit's Python SDK: declare tasks, trigger them, and read their runs."""

from triggerkit._tasks import AbortTaskRunError, Queue, Retry, Task, TaskContext, task

__all__ = ["AbortTaskRunError", "Queue", "Retry", "Task", "TaskContext", "task"]
