"""One logging setup for web, worker and beat: plain text, or JSON lines.

settings.LOGGING picks a formatter with LOG_FORMAT (`plain` or `json`). Both
print the same fields: the message, and from the documented set in
docs/logging.md only (`action`, `run_id`, `task`, `attempt`, `environment`,
`status`, …), whether a call passed them in `extra` or the worker bound them
for the run it is executing. Other extras are dropped, so that a payload
passed by mistake never reaches the log, and anything shaped like a secret key
is masked.
"""

from __future__ import annotations

import json
import logging
import re
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

# The fields a log line may carry besides its message, in print order.
FIELDS = (
    "action",
    "run_id",
    "task",
    "attempt",
    "environment",
    "status",
    "step",
    "schedule_id",
    "bulk_action_id",
    "alert_id",
    "kind",
)
SECRET_KEY = re.compile(
    r"\b(tr_(?:dev|stg|prod|preview)_(?:sk_)?)[0-9A-Za-z]{20}([0-9A-Za-z]{4})\b"
)
BEARER = re.compile(r"(Bearer\s+)[^\s\"']+", re.IGNORECASE)

# What the worker knows about the run it is executing (task, environment…).
bound: ContextVar[dict[str, Any] | None] = ContextVar(
    "triggerkit_log_context", default=None
)


def redact(text: str) -> str:
    """Mask secret keys (keeping prefix and last four) and bearer tokens."""
    text = SECRET_KEY.sub(r"\1****\2", text)
    return BEARER.sub(r"\1****", text)


class ContextFilter(logging.Filter):
    """Copy the bound run fields onto each record that does not carry them."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = bound.get()
        if context:
            for key, value in context.items():
                if getattr(record, key, None) is None:
                    setattr(record, key, value)
        if getattr(record, "attempt", None) is None:
            attempt = current_attempt()
            if attempt is not None:
                record.attempt = attempt
        return True


def current_attempt() -> int | None:
    """The attempt number of the task running in this thread, if any."""
    from triggerkit._runtime import current_runtime

    runtime = current_runtime.get()
    return None if runtime is None else runtime.attempt_number


def fields_of(record: logging.LogRecord) -> dict[str, Any]:
    return {
        key: getattr(record, key)
        for key in FIELDS
        if getattr(record, key, None) not in (None, "")
    }


class PlainFormatter(logging.Formatter):
    """`time LEVEL logger message key=value…`, for terminals and `triggerkit dev`."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        pairs = " ".join(f"{key}={value}" for key, value in fields_of(record).items())
        return redact(f"{line} {pairs}" if pairs else line)


class JsonFormatter(logging.Formatter):
    """One JSON object a line, for log collectors."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
            **fields_of(record),
        }
        if record.exc_info:
            data["exception"] = redact(self.formatException(record.exc_info))
        if record.stack_info:
            data["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(data, ensure_ascii=False, default=str)


def connect_worker_signals() -> None:
    """Bind the run's fields while a Celery worker executes it."""
    from celery.signals import task_postrun, task_prerun

    task_prerun.connect(bind_run, weak=False, dispatch_uid="triggerkit-log-bind")
    task_postrun.connect(unbind_run, weak=False, dispatch_uid="triggerkit-log-unbind")


def bind_run(sender: Any = None, args: Any = None, **kwargs: Any) -> None:
    if getattr(sender, "name", None) != "triggerkit.execute_run" or not args:
        return
    bound.set({"run_id": args[0]})


def unbind_run(sender: Any = None, **kwargs: Any) -> None:
    if getattr(sender, "name", None) == "triggerkit.execute_run":
        bound.set(None)


def bind_fields(**fields: Any) -> None:
    """Add fields to those bound for the run this worker executes.

    The worker learns the task and environment when it claims the run, in the
    claim's own statement, so binding them costs no query.
    """
    context = bound.get()
    if context is not None:
        bound.set({**context, **fields})
