"""A Django tasks backend whose tasks run as Triggerkit runs.

In the Django project (`TASKS = {"default": {"BACKEND": …, "OPTIONS": {…}}}`),
`enqueue` triggers a run of the task id `<module>.<function>` with the payload
`{"args": [...], "kwargs": {...}}`, and `get_result` reads the run back as a
TaskResult. In the Triggerkit worker, whose settings name this backend too,
importing the task module registers each `@task` function under that id, so
the worker can execute it.

OPTIONS (all optional): SECRET_KEY and API_URL (else TRIGGER_SECRET_KEY and
TRIGGER_API_URL), MAX_ATTEMPTS (1: Django tasks run once unless told), TAGS
(added to every run).
"""

from __future__ import annotations

import builtins
import threading
from datetime import datetime
from typing import Any
from urllib.parse import quote

from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from triggerkit_django import compat

TASK_ID_MAX_LENGTH = 128
# Run metadata key where the worker records the exception class a task raised.
EXCEPTION_KEY = "djangoTaskException"
DEFAULT_MAX_ATTEMPTS = 1
# Public run statuses (API v2 names) -> Django's.
READY_STATUSES = frozenset(
    {"PENDING_VERSION", "DELAYED", "QUEUED", "DEQUEUED", "WAITING"}
)
RUNNING_STATUSES = frozenset({"EXECUTING"})
SUCCESSFUL_STATUSES = frozenset({"COMPLETED"})


class RunEndedError(Exception):
    """The run ended without the task raising: cancelled, expired, crashed or timed out."""


class TriggerkitBackend(compat.BaseTaskBackend):
    supports_defer = True
    supports_async_task = True
    supports_get_result = True
    supports_priority = True

    def __init__(self, alias: str, params: dict[str, Any]) -> None:
        super().__init__(alias, params)
        if "QUEUES" not in params:
            self.queues = set()  # any queue name: each becomes a Triggerkit queue
        options = {str(key).upper(): value for key, value in self.options.items()}
        self.secret_key: str | None = options.get("SECRET_KEY")
        self.api_url: str | None = options.get("API_URL")
        self.max_attempts = int(options.get("MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS))
        self.tags = list(options.get("TAGS", []))
        self._client: Any = None
        self._lock = threading.Lock()

    def validate_task(self, task: compat.Task) -> None:
        super().validate_task(task)
        if len(task_id_of(task)) > TASK_ID_MAX_LENGTH:
            raise invalid_task(
                f"Task path {task_id_of(task)!r} is over {TASK_ID_MAX_LENGTH} characters."
            )
        from triggerkit_django import worker

        worker.register(task)

    def enqueue(self, task: compat.Task, args: Any, kwargs: Any) -> compat.TaskResult:
        self.validate_task(task)
        result = compat.TaskResult(
            task=task,
            id="pending",
            status=compat.TaskResultStatus.READY,
            enqueued_at=None,
            started_at=None,
            last_attempted_at=None,
            finished_at=None,
            args=args,
            kwargs=kwargs,
            backend=self.alias,
            errors=[],
            worker_ids=[],
        )
        payload = {"args": result.args, "kwargs": result.kwargs}
        run_id = self.trigger(task, payload)
        object.__setattr__(result, "id", run_id)
        object.__setattr__(result, "enqueued_at", timezone.now())
        send_signal("task_enqueued", type(self), result)
        return result

    def trigger(self, task: compat.Task, payload: dict[str, Any]) -> str:
        from triggerkit._runtime import current_runtime

        options: dict[str, Any] = {"maxAttempts": self.max_attempts}
        if task.priority:
            options["priority"] = task.priority
        if task.run_after is not None:
            options["delay"] = task.run_after.isoformat()
        if task.queue_name != compat.DEFAULT_TASK_QUEUE_NAME:
            options["queue"] = {"name": task.queue_name}
        if self.tags:
            options["tags"] = self.tags

        if current_runtime.get() is not None:
            # Enqueued by a task running on a Triggerkit worker: a child run.
            import triggerkit

            return triggerkit.tasks.trigger(
                task_id_of(task), payload, **sdk_options(options)
            ).id
        from triggerkit.client import ApiRequest

        path = f"/api/v1/tasks/{quote(task_id_of(task), safe='')}/trigger"
        response = self.client().send(
            ApiRequest("POST", path, json={"payload": payload, "options": options})
        )
        return response.data["id"]

    def get_result(self, result_id: str) -> compat.TaskResult:
        import triggerkit
        from triggerkit.client import ApiRequest

        try:
            data = (
                self.client()
                .send(
                    ApiRequest(
                        "GET",
                        f"/api/v3/runs/{quote(result_id, safe='')}",
                        idempotent=False,
                    )
                )
                .data
            )
        except triggerkit.NotFoundError as exc:
            raise compat.TaskResultDoesNotExist(result_id) from exc
        return self.result_of(data)

    def result_of(self, run: dict[str, Any]) -> compat.TaskResult:
        """The TaskResult of a run object of the API."""
        from django.utils.module_loading import import_string

        try:
            task = import_string(run["taskIdentifier"])
        except ImportError as exc:
            raise compat.TaskResultDoesNotExist(
                f"{run['id']} runs {run['taskIdentifier']!r}, which is not importable here"
            ) from exc
        payload = run.get("payload") if isinstance(run.get("payload"), dict) else {}
        status = status_of(run["status"])
        result = compat.TaskResult(
            task=task,
            id=run["id"],
            status=status,
            enqueued_at=moment(run.get("createdAt")),
            started_at=moment(run.get("startedAt")),
            last_attempted_at=moment(run.get("startedAt")),
            finished_at=moment(run.get("finishedAt")),
            args=payload.get("args", []),
            kwargs=payload.get("kwargs", {}),
            backend=self.alias,
            errors=errors_of(run) if status == compat.TaskResultStatus.FAILED else [],
            worker_ids=["triggerkit"] * int(run.get("attemptCount", 0)),
        )
        if status == compat.TaskResultStatus.SUCCESSFUL:
            object.__setattr__(result, "_return_value", run.get("output"))
        return result

    def client(self) -> Any:
        import triggerkit
        from triggerkit.client import ApiClient, ClientConfig

        with self._lock:
            if self._client is None:
                config = ClientConfig(secret_key=self.secret_key, api_url=self.api_url)
                try:
                    self._client = ApiClient(config.with_environment())
                except triggerkit.ConfigurationError as exc:
                    raise ImproperlyConfigured(
                        f"TASKS[{self.alias!r}]: {exc} (or set OPTIONS['SECRET_KEY'])"
                    ) from exc
            return self._client


def task_id_of(task: compat.Task) -> str:
    return task.module_path


def sdk_options(wire: dict[str, Any]) -> dict[str, Any]:
    """The SDK's names for the wire options used here."""
    names = {
        "maxAttempts": "max_attempts",
        "queue": "queue",
        "tags": "tags",
        "priority": "priority",
        "delay": "delay",
    }
    options = {names[key]: value for key, value in wire.items()}
    if "queue" in options:
        options["queue"] = options["queue"]["name"]
    if "delay" in options:
        options["delay"] = datetime.fromisoformat(options["delay"])
    return options


def status_of(status: str) -> compat.TaskResultStatus:
    if status in READY_STATUSES:
        return compat.TaskResultStatus.READY
    if status in RUNNING_STATUSES:
        return compat.TaskResultStatus.RUNNING
    if status in SUCCESSFUL_STATUSES:
        return compat.TaskResultStatus.SUCCESSFUL
    return compat.TaskResultStatus.FAILED


def errors_of(run: dict[str, Any]) -> list[compat.TaskError]:
    error = run.get("error") or {}
    recorded = (run.get("metadata") or {}).get(EXCEPTION_KEY)
    if recorded:
        path = recorded
    elif run["status"] == "FAILED" and hasattr(builtins, str(error.get("name"))):
        path = f"builtins.{error['name']}"
    else:
        path = f"{__name__}.{RunEndedError.__name__}"
    traceback = (
        error.get("stackTrace")
        or f"{error.get('name', 'Error')}: {error.get('message', run['status'])}"
    )
    return [compat.TaskError(exception_class_path=path, traceback=traceback)]


def moment(value: str | None) -> datetime | None:
    return (
        None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00"))
    )


def invalid_task(message: str) -> Exception:
    try:
        from django.tasks.exceptions import InvalidTask as error_class
    except ImportError:
        from django_tasks.exceptions import InvalidTaskError as error_class
    return error_class(message)


def send_signal(name: str, sender: type, result: compat.TaskResult) -> None:
    try:
        from django.tasks import signals
    except ImportError:
        from django_tasks import signals
    getattr(signals, name).send(sender, task_result=result)
