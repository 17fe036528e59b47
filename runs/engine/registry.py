"""Registering the tasks a worker found in its task modules."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from apikeys.models import Environment
from runs.engine.dispatch import request_dispatch
from runs.engine.schedules import copy_declarative_schedules
from runs.engine.trigger import forget_tasks
from runs.models import Queue, Task

# Rows per upsert statement: one statement for most deployments, bounded for large ones.
UPSERT_BATCH_ROWS = 5000

RELEASE_SQL = """
WITH released AS (
    UPDATE runs_run
    SET status = 'QUEUED', updated_at = %(now)s,
        queue_timestamp = %(now)s - make_interval(secs => priority_seconds)
    WHERE status = 'PENDING_VERSION' AND task_identifier = ANY (%(slugs)s)
      AND environment_id = ANY (%(envs)s)
    RETURNING environment_id
)
SELECT DISTINCT environment_id FROM released
"""


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
    """Upsert tasks and their queues in every environment; wake their pending runs.

    A few statements in all, however many tasks and environments there are.
    """
    if environments is None:
        environments = list(Environment.objects.all())
    env_ids = [environment.pk for environment in environments]
    # A slug or queue listed twice keeps its last definition.
    by_slug = {definition.slug: definition for definition in definitions}
    now = timezone.now()
    with transaction.atomic():
        queues = upsert_queues(env_ids, list(by_slug.values()))
        upsert_tasks(env_ids, list(by_slug.values()), queues, now)
        for env_id in release_pending_runs(env_ids, list(by_slug), now):
            request_dispatch(env_id)
    forget_tasks()


def upsert_queues(
    env_ids: list[int], definitions: list[TaskDefinition]
) -> dict[tuple[int, str], int]:
    """Create or update the tasks' queues; return their ids by (environment, name)."""
    limits = {d.queue_name: d.queue_concurrency_limit for d in definitions}
    queues = Queue.objects.bulk_create(
        [
            Queue(environment_id=env_id, name=name, concurrency_limit=limit)
            for env_id in env_ids
            for name, limit in limits.items()
        ],
        batch_size=UPSERT_BATCH_ROWS,
        update_conflicts=True,
        unique_fields=["environment", "name"],
        update_fields=["concurrency_limit"],
    )
    return {(queue.environment_id, queue.name): queue.pk for queue in queues}


def upsert_tasks(
    env_ids: list[int],
    definitions: list[TaskDefinition],
    queues: dict[tuple[int, str], int],
    now: datetime,
) -> None:
    Task.objects.bulk_create(
        [
            Task(
                environment_id=env_id,
                slug=definition.slug,
                queue_id=queues[(env_id, definition.queue_name)],
                retry=definition.retry,
                max_duration_seconds=definition.max_duration_seconds,
                ttl_seconds=definition.ttl_seconds,
                file_path=definition.file_path,
                export_name=definition.export_name,
                registered_at=now,
            )
            for env_id in env_ids
            for definition in definitions
        ],
        batch_size=UPSERT_BATCH_ROWS,
        update_conflicts=True,
        unique_fields=["environment", "slug"],
        update_fields=[
            "queue",
            "retry",
            "max_duration_seconds",
            "ttl_seconds",
            "file_path",
            "export_name",
            "registered_at",
        ],
    )


def release_pending_runs(
    env_ids: list[int], slugs: list[str], now: datetime
) -> list[int]:
    """Queue runs triggered before a worker knew their task; return their environments."""
    with connection.cursor() as cursor:
        cursor.execute(RELEASE_SQL, {"envs": env_ids, "slugs": slugs, "now": now})
        return [env_id for (env_id,) in cursor.fetchall()]


def copy_known_tasks(environment: Environment) -> None:
    """Give a new environment the tasks and declarative schedules workers registered."""
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
    copy_declarative_schedules(environment)
