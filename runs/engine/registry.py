"""Registering the tasks a worker found in its task modules."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from apikeys.models import Environment
from runs.engine.dispatch import request_dispatch
from runs.models import Queue, Run, RunStatus, Task


@dataclass(frozen=True)
class TaskDefinition:
    slug: str
    queue_name: str
    queue_concurrency_limit: int | None = None
    retry: dict[str, Any] = field(default_factory=dict)
    max_duration_seconds: int | None = None
    ttl_seconds: int | None = None
    file_path: str = ""
    export_name: str = ""


def register_tasks(
    definitions: list[TaskDefinition], environments: list[Environment] | None = None
) -> None:
    """Upsert tasks and their queues in every environment; wake their pending runs."""
    if environments is None:
        environments = list(Environment.objects.all())
    now = timezone.now()
    with transaction.atomic():
        for environment in environments:
            for definition in definitions:
                register_task(environment, definition, now)
            if release_pending_runs(environment, [d.slug for d in definitions]):
                request_dispatch(environment.pk)


def register_task(environment: Environment, definition: TaskDefinition, now) -> Task:
    queue, _ = Queue.objects.update_or_create(
        environment=environment,
        name=definition.queue_name,
        defaults={"concurrency_limit": definition.queue_concurrency_limit},
    )
    task, _ = Task.objects.update_or_create(
        environment=environment,
        slug=definition.slug,
        defaults={
            "queue": queue,
            "retry": definition.retry,
            "max_duration_seconds": definition.max_duration_seconds,
            "ttl_seconds": definition.ttl_seconds,
            "file_path": definition.file_path,
            "export_name": definition.export_name,
            "registered_at": now,
        },
    )
    return task


def release_pending_runs(environment: Environment, slugs: list[str]) -> int:
    """Queue runs that were triggered before any worker knew their task."""
    now = timezone.now()
    return Run.objects.filter(
        environment=environment, status=RunStatus.PENDING_VERSION, task_identifier__in=slugs
    ).update(status=RunStatus.QUEUED, queue_timestamp=now, updated_at=now)


def copy_known_tasks(environment: Environment) -> None:
    """Give a new environment the tasks that workers registered elsewhere."""
    latest: dict[str, Task] = {}
    for task in Task.objects.select_related("queue").order_by("registered_at"):
        latest[task.slug] = task
    definitions = [
        TaskDefinition(
            slug=task.slug,
            queue_name=task.queue.name,
            queue_concurrency_limit=task.queue.concurrency_limit,
            retry=task.retry,
            max_duration_seconds=task.max_duration_seconds,
            ttl_seconds=task.ttl_seconds,
            file_path=task.file_path,
            export_name=task.export_name,
        )
        for task in latest.values()
    ]
    if definitions:
        register_tasks(definitions, [environment])
    scheduled = [task.slug for task in latest.values() if task.is_scheduled]
    Task.objects.filter(environment=environment, slug__in=scheduled).update(is_scheduled=True)
    # Declarative schedules reach a new environment when a worker next starts: the
    # declarations (and which environments they name) live only in the workers' code.
