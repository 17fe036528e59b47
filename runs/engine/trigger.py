"""Creating runs: single triggers, batch items and replays."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from apikeys.memo import Memo
from apikeys.models import Environment, EnvironmentKind
from runs.engine.dispatch import request_dispatch
from runs.engine.errors import UnprocessableError
from runs.engine.spec import TriggerSpec
from runs.models import KEY_RELEASING_STATUSES, Queue, Run, RunStatus, Task

DEFAULT_MAX_ATTEMPTS = 3
DEVELOPMENT_DEFAULT_TTL_SECONDS = 600
IDEMPOTENCY_KEY_DEFAULT_TTL = timedelta(days=30)
MAX_TAGS = 10
# A unique-index race is retried this many times before giving up.
IDEMPOTENCY_RACE_RETRIES = 5
# How long a process remembers a task it found (find_task).
TASK_CACHE_SECONDS = 5

# Tasks found (with their queue), by (environment id, task id).
_found_tasks: Memo[Task] = Memo()


@dataclass(frozen=True)
class Triggered:
    run: Run
    is_cached: bool


def find_task(environment_id: int, task_identifier: str) -> Task | None:
    """Return a registered task with its queue, remembered by this process a while.

    Only tasks found are remembered, so a task is known as soon as a worker
    registers it; a changed definition (retry, TTL, queue) reaches other processes
    within TASK_CACHE_SECONDS.
    """
    task = _found_tasks.get((environment_id, task_identifier))
    if task is not None:
        return task
    task = (
        Task.objects.select_related("queue")
        .filter(environment_id=environment_id, slug=task_identifier)
        .first()
    )
    if task is not None:
        key = (environment_id, task_identifier)
        _found_tasks.remember(key, task, TASK_CACHE_SECONDS)
    return task


def forget_tasks() -> None:
    """Drop every task this process remembers (a worker registered new definitions)."""
    _found_tasks.clear()


def resolve_queue(
    environment: Environment, task_identifier: str, task: Task | None, spec: TriggerSpec
) -> Queue:
    """Return the queue a run joins, applying a trigger's limit override."""
    if spec.queue_name is None:
        if task is not None:
            return task.queue
        name = f"task/{task_identifier}"
    else:
        name = spec.queue_name

    queue, _ = Queue.objects.get_or_create(environment=environment, name=name)
    limit = spec.queue_concurrency_limit
    if limit is not None and queue.concurrency_limit != limit:
        Queue.objects.filter(pk=queue.pk).update(concurrency_limit=limit)
        queue.concurrency_limit = limit
    return queue


def check_tags(tags: list[str]) -> None:
    if len(tags) > MAX_TAGS:
        raise UnprocessableError(
            f"Runs can only have {MAX_TAGS} tags, you're trying to set {len(tags)}."
        )


def build_run(
    environment: Environment,
    task_identifier: str,
    task: Task | None,
    queue: Queue,
    spec: TriggerSpec,
) -> Run:
    """Return an unsaved run for a trigger, in the state it starts in."""
    now = timezone.now()
    check_tags(spec.tags)
    run = Run(
        environment=environment,
        task_identifier=task_identifier,
        queue=queue,
        concurrency_key=spec.concurrency_key,
        payload=spec.payload,
        payload_type=spec.payload_type,
        tags=sorted(set(spec.tags)),
        metadata=spec.metadata,
        extra_options=spec.extra_options,
        idempotency_key=spec.idempotency_key,
        idempotency_key_options=spec.idempotency_key_options,
        ttl_seconds=default_ttl(environment, task, spec) or None,
        priority_seconds=spec.priority_seconds,
        max_attempts=spec.max_attempts or task_max_attempts(task),
        max_duration_seconds=spec.max_duration_seconds
        or (task.max_duration_seconds if task else None),
        is_test=spec.is_test,
        parent_run_id=spec.parent_run_id,
        root_run_id=spec.root_run_id,
        depth=spec.depth,
        trigger_function=spec.trigger_function,
        created_at=now,
        updated_at=now,
    )
    if spec.idempotency_key:
        run.idempotency_key_expires_at = (
            spec.idempotency_key_expires_at or now + IDEMPOTENCY_KEY_DEFAULT_TTL
        )

    if spec.delay_until is not None and spec.delay_until > now:
        run.status = RunStatus.DELAYED
        run.delay_until = spec.delay_until
    elif task is None:
        run.status = RunStatus.PENDING_VERSION
        start_ttl(run, now)
    else:
        run.status = RunStatus.QUEUED
        run.queue_timestamp = now - timedelta(seconds=spec.priority_seconds)
        start_ttl(run, now)
    return run


def default_ttl(environment: Environment, task: Task | None, spec: TriggerSpec) -> int:
    if spec.ttl_seconds is not None:
        return spec.ttl_seconds
    if task is not None and task.ttl_seconds is not None:
        return task.ttl_seconds
    if environment.kind == EnvironmentKind.DEVELOPMENT:
        return DEVELOPMENT_DEFAULT_TTL_SECONDS
    return 0


def task_max_attempts(task: Task | None) -> int:
    if task is None:
        return DEFAULT_MAX_ATTEMPTS
    return int(task.retry.get("max_attempts") or DEFAULT_MAX_ATTEMPTS)


def start_ttl(run: Run, now) -> None:
    if run.ttl_seconds:
        run.ttl_expires_at = now + timedelta(seconds=run.ttl_seconds)


def trigger_run(
    environment: Environment, task_identifier: str, spec: TriggerSpec
) -> Triggered:
    """Create a run, or return the live run that already holds its idempotency key."""
    task = find_task(environment.pk, task_identifier)
    queue = resolve_queue(environment, task_identifier, task, spec)
    if spec.idempotency_key:
        triggered = insert_idempotent_run(
            environment, task_identifier, task, queue, spec
        )
    else:
        # A single INSERT is atomic on its own: no transaction around it.
        run = build_run(environment, task_identifier, task, queue, spec)
        run.save(force_insert=True)
        triggered = Triggered(run, is_cached=False)
    if not triggered.is_cached and triggered.run.status == RunStatus.QUEUED:
        request_dispatch(environment.pk)
    return triggered


def insert_idempotent_run(
    environment: Environment,
    task_identifier: str,
    task: Task | None,
    queue: Queue,
    spec: TriggerSpec,
) -> Triggered:
    """Insert a run holding an idempotency key, or return the live run holding it."""
    for _ in range(IDEMPOTENCY_RACE_RETRIES):
        run = build_run(environment, task_identifier, task, queue, spec)
        try:
            with transaction.atomic():
                existing = claim_idempotency_key(run)
                if existing is not None:
                    return Triggered(existing, is_cached=True)
                run.save(force_insert=True)
        except IntegrityError:
            # Another trigger with the same key committed first: look again.
            continue
        return Triggered(run, is_cached=False)
    raise UnprocessableError("Could not claim the idempotency key; try again")


def claim_idempotency_key(run: Run) -> Run | None:
    """Return the run holding the key, or release a key that may be reused."""
    existing = (
        Run.objects.select_for_update()
        .filter(
            environment_id=run.environment_id,
            task_identifier=run.task_identifier,
            idempotency_key=run.idempotency_key,
        )
        .first()
    )
    if existing is None:
        return None
    expired = (
        existing.idempotency_key_expires_at is not None
        and existing.idempotency_key_expires_at <= timezone.now()
    )
    if not expired and existing.status not in KEY_RELEASING_STATUSES:
        return existing
    Run.objects.filter(pk=existing.pk).update(idempotency_key=None)
    return None


def replay_run(run: Run, overrides: TriggerSpec | None = None) -> Run:
    """Start a new run of the same task with the same input (or the overrides)."""
    spec = overrides or TriggerSpec()
    if overrides is None or spec.payload is None:
        spec.payload, spec.payload_type = run.payload, run.payload_type
    if overrides is None or not spec.tags:
        spec.tags = list(run.tags)
    if overrides is None or spec.metadata is None:
        spec.metadata = run.metadata
    if spec.queue_name is None:
        spec.queue_name = run.queue.name
    if not spec.concurrency_key:
        spec.concurrency_key = run.concurrency_key
    if spec.ttl_seconds is None:
        spec.ttl_seconds = 0
    spec.is_test = run.is_test
    spec.extra_options = {**run.extra_options, **spec.extra_options}

    environment = run.environment
    task = find_task(environment.pk, run.task_identifier)
    queue = resolve_queue(environment, run.task_identifier, task, spec)
    new_run = build_run(environment, run.task_identifier, task, queue, spec)
    new_run.replayed_from = run
    new_run.trigger_source = "replay"
    new_run.save(force_insert=True)
    if new_run.status == RunStatus.QUEUED:
        request_dispatch(environment.pk)
    return new_run
