"""Run state changes after the trigger: start, finish, retry, cancel, time."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from alerts.hooks import run_failed as alert_run_failed
from runs import publish
from runs.durations import format_duration
from runs.engine import waits
from runs.engine.dispatch import request_dispatch
from runs.models import (
    FINAL_STATUSES,
    Attempt,
    AttemptStatus,
    Queue,
    Run,
    RunLog,
    RunStatus,
    Task,
    Waitpoint,
)

logger = logging.getLogger(__name__)

CANCELED_ERROR = {"message": "Canceled by user"}
# Rows changed per statement by the time-based sweeps.
SWEEP_BATCH_SIZE = 1000
DEFAULT_RETRY = {
    "factor": 2.0,
    "min_delay_seconds": 1.0,
    "max_delay_seconds": 30.0,
    "jitter": True,
}


@dataclass(frozen=True)
class StartedAttempt:
    run: Run
    attempt: Attempt


@dataclass(frozen=True)
class LogLine:
    logged_at: datetime
    level: str
    message: str


def start_attempt(run_id: str, worker: str) -> StartedAttempt | None:
    """Claim a dequeued run for execution; None if another actor got there first.

    A run resuming after a wait continues its attempt as a new segment; any
    other start is a new attempt.
    """
    now = timezone.now()
    with transaction.atomic():
        claimed = Run.objects.filter(pk=run_id, status=RunStatus.DEQUEUED).update(
            status=RunStatus.EXECUTING,
            started_at=Coalesce(F("started_at"), Value(now)),
            updated_at=now,
        )
        if claimed != 1:
            return None

        last = Attempt.objects.filter(run_id=run_id).order_by("-pk").first()
        if last is not None and last.status == AttemptStatus.SUSPENDED:
            number, segment = last.number, last.segment + 1
        else:
            number, segment = (last.number + 1 if last else 1), 0
            Run.objects.filter(pk=run_id).update(attempt_count=number)
        run = Run.objects.get(pk=run_id)
        attempt = Attempt.objects.create(
            run=run,
            number=number,
            segment=segment,
            status=AttemptStatus.EXECUTING,
            started_at=now,
            heartbeat_at=now,
            worker=worker,
        )
    logger.info(
        "attempt started",
        extra={"action": "attempt_started", "run_id": run_id, "attempt": number},
    )
    return StartedAttempt(run, attempt)


def complete_attempt(
    attempt: Attempt, output: str | None, output_type: str, logs: list[LogLine]
) -> bool:
    """Record a successful attempt; False if the run was no longer executing."""
    now = timezone.now()
    with transaction.atomic():
        if not finish_attempt(attempt, AttemptStatus.COMPLETED, now, None, logs):
            return False
        done = Run.objects.filter(pk=attempt.run_id, status=RunStatus.EXECUTING).update(
            status=RunStatus.COMPLETED,
            output=output,
            output_type=output_type,
            error=None,
            finished_at=now,
            updated_at=now,
        )
        if done:
            notify_parent(attempt.run)
        request_dispatch(attempt.run.environment_id)
    logger.info(
        "attempt completed",
        extra={"action": "attempt_completed", "run_id": attempt.run_id},
    )
    return done == 1


def fail_attempt(
    attempt: Attempt,
    error: dict[str, Any],
    logs: list[LogLine],
    *,
    retryable: bool = True,
    final_status: str = RunStatus.FAILED,
    attempt_status: str = AttemptStatus.FAILED,
) -> str | None:
    """Record a failed attempt and retry the run if it may; return its new status."""
    now = timezone.now()
    run = attempt.run
    with transaction.atomic():
        if not finish_attempt(attempt, attempt_status, now, error, logs):
            return None
        if retryable and attempt.number < run.max_attempts:
            status = RunStatus.RETRYING
            delay = retry_delay(task_retry_policy(run), attempt.number)
            changes = {"delay_until": now + delay}
        else:
            status = final_status
            changes = {"finished_at": now}
        moved = Run.objects.filter(pk=run.pk, status=RunStatus.EXECUTING).update(
            status=status, error=error, updated_at=now, **changes
        )
        if moved and status != RunStatus.RETRYING:
            notify_parent(run)
        request_dispatch(run.environment_id)

    if moved != 1:
        return None
    alert_run_failed(run, status, error)
    level = logging.INFO if status == RunStatus.RETRYING else logging.WARNING
    logger.log(
        level,
        "attempt failed",
        extra={"action": "attempt_failed", "run_id": run.pk, "status": status},
    )
    return status


def finish_attempt(
    attempt: Attempt,
    status: str,
    now: datetime,
    error: dict[str, Any] | None,
    logs: list[LogLine],
) -> bool:
    """End an executing attempt; False if it had already been ended elsewhere.

    An attempt is ended elsewhere when it was cancelled, or crashed by the
    lease sweep while its worker was merely slow: such a worker must not
    touch the run any more, which may already be running its next attempt.
    """
    ended = Attempt.objects.filter(pk=attempt.pk, status=AttemptStatus.EXECUTING).update(
        status=status, finished_at=now, error=error
    )
    RunLog.objects.bulk_create(
        RunLog(
            run_id=attempt.run_id,
            attempt_number=attempt.number,
            logged_at=line.logged_at,
            level=line.level,
            message=line.message,
        )
        for line in logs
    )
    return ended == 1


def suspend_attempt(attempt: Attempt, step: int, logs: list[LogLine]) -> str | None:
    """End an execution segment at an unresolved step; return the run's new status."""
    now = timezone.now()
    with transaction.atomic():
        run = Run.objects.select_for_update().get(pk=attempt.run_id)
        ended = finish_attempt(attempt, AttemptStatus.SUSPENDED, now, None, logs)
        if not ended or run.status != RunStatus.EXECUTING:
            return None
        waitpoint = Waitpoint.objects.get(run_id=run.pk, step=step)
        if waitpoint.resolved_at is not None:
            # It resolved while the task was still on its way to suspending.
            status, changes = RunStatus.QUEUED, {"queue_timestamp": now}
        else:
            status, changes = RunStatus.WAITING, {}
        Run.objects.filter(pk=run.pk).update(status=status, updated_at=now, **changes)
        # Leaving EXECUTING frees a slot, for this run's children among others.
        request_dispatch(run.environment_id)
    logger.info(
        "run suspended", extra={"action": "run_suspended", "run_id": run.pk, "step": step}
    )
    return status


def task_retry_policy(run: Run) -> dict[str, Any]:
    retry = (
        Task.objects.filter(environment_id=run.environment_id, slug=run.task_identifier)
        .values_list("retry", flat=True)
        .first()
    )
    return retry or {}


def retry_delay(policy: dict[str, Any], attempt_number: int) -> timedelta:
    """Exponential backoff: min * factor^(n-1), capped, with optional jitter."""
    policy = {**DEFAULT_RETRY, **policy}
    seconds = policy["min_delay_seconds"] * policy["factor"] ** (attempt_number - 1)
    seconds = min(seconds, policy["max_delay_seconds"])
    if policy["jitter"]:
        seconds *= random.uniform(0.75, 1.25)
    return timedelta(seconds=seconds)


def heartbeat(attempt_id: int) -> bool:
    """Renew an attempt's lease; False once the attempt should stop.

    It should stop when it was ended elsewhere (cancelled, or crashed by the
    lease sweep) or its run was cancelled.
    """
    renewed = Attempt.objects.filter(
        pk=attempt_id, status=AttemptStatus.EXECUTING, run__status=RunStatus.EXECUTING
    ).update(heartbeat_at=timezone.now())
    return renewed == 1


def cancel_run(run: Run) -> bool:
    """Cancel a run that has not finished, and its unfinished children."""
    now = timezone.now()
    with transaction.atomic():
        canceled = (
            Run.objects.filter(pk=run.pk)
            .exclude(status__in=FINAL_STATUSES)
            .update(
                status=RunStatus.CANCELED,
                error=CANCELED_ERROR,
                finished_at=now,
                updated_at=now,
                delay_until=None,
            )
        )
        if canceled:
            Attempt.objects.filter(
                run=run, status__in=[AttemptStatus.EXECUTING, AttemptStatus.SUSPENDED]
            ).update(status=AttemptStatus.CANCELED, finished_at=now)
            notify_parent(run)
            for child in Run.objects.filter(pk__in=waits.cancel_children(run.pk)):
                cancel_run(child)
            request_dispatch(run.environment_id)
    if canceled:
        logger.info("run canceled", extra={"action": "run_canceled", "run_id": run.pk})
    return bool(canceled)


def notify_parent(run: Run) -> None:
    """Resolve the waits of a parent on a run that just became final."""
    if run.parent_run_id is not None:
        waits.child_finished(Run.objects.get(pk=run.pk))


def reschedule_run(run: Run, delay_until: datetime) -> bool:
    """Move a delayed run to a new time; False if it is no longer delayed."""
    return bool(
        Run.objects.filter(pk=run.pk, status=RunStatus.DELAYED).update(
            delay_until=delay_until, updated_at=timezone.now()
        )
    )


PROMOTE_SQL = """
WITH due AS (
    SELECT id FROM runs_run
    WHERE status IN ('DELAYED', 'RETRYING') AND delay_until <= %(now)s
    ORDER BY delay_until
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE runs_run AS run
SET status = 'QUEUED',
    queue_timestamp = %(now)s - make_interval(secs => run.priority_seconds),
    ttl_expires_at = CASE
        WHEN run.status = 'DELAYED' AND run.ttl_seconds IS NOT NULL
        THEN %(now)s + make_interval(secs => run.ttl_seconds)
    END,
    delay_until = NULL,
    updated_at = %(now)s
FROM due WHERE run.id = due.id
RETURNING run.environment_id
"""


def promote_due_runs(now: datetime | None = None) -> int:
    """Queue delayed runs and retries whose time has come; dispatch their envs."""
    now = now or timezone.now()
    promoted = 0
    while True:
        with transaction.atomic():
            rows = _execute(PROMOTE_SQL, {"now": now, "limit": SWEEP_BATCH_SIZE})
            for env_id in {env_id for (env_id,) in rows}:
                request_dispatch(env_id)
        promoted += len(rows)
        if len(rows) < SWEEP_BATCH_SIZE:
            return promoted


def expire_runs(now: datetime | None = None) -> int:
    """Expire runs still waiting in their queue when their TTL passes."""
    now = now or timezone.now()
    expired = 0
    candidates = Run.objects.filter(
        status__in=[RunStatus.QUEUED, RunStatus.PENDING_VERSION], ttl_expires_at__lte=now
    ).values_list("pk", "ttl_seconds")[:SWEEP_BATCH_SIZE]
    for run_id, ttl in candidates:
        error = {"message": f"Run expired because the TTL ({format_duration(ttl)}) was reached"}
        with transaction.atomic():
            changed = Run.objects.filter(
                pk=run_id, status__in=[RunStatus.QUEUED, RunStatus.PENDING_VERSION]
            ).update(
                status=RunStatus.EXPIRED,
                error=error,
                expired_at=now,
                finished_at=now,
                updated_at=now,
                ttl_expires_at=None,
            )
            if changed:
                waits.finish_runs([run_id])
        expired += changed
    return expired


def republish_lost_runs(now: datetime | None = None) -> int:
    """Publish again the dequeued runs whose message seems lost."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.TRIGGERKIT_LOST_MESSAGE_SECONDS)
    with transaction.atomic():
        lost = list(
            Run.objects.select_for_update(skip_locked=True)
            .filter(status=RunStatus.DEQUEUED, dequeued_at__lt=cutoff)
            .values_list("pk", "max_duration_seconds")[:SWEEP_BATCH_SIZE]
        )
        Run.objects.filter(pk__in=[pk for pk, _ in lost]).update(dequeued_at=now)
        transaction.on_commit(lambda: publish.execute_runs(lost))
    if lost:
        logger.warning(
            "republished %d runs", len(lost), extra={"action": "runs_republished"}
        )
    return len(lost)


def crash_stale_attempts(now: datetime | None = None) -> int:
    """Fail attempts whose worker stopped renewing the lease; retry their runs."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.TRIGGERKIT_LEASE_SECONDS)
    stale = list(
        Attempt.objects.select_related("run")
        .filter(status=AttemptStatus.EXECUTING, heartbeat_at__lt=cutoff)[:SWEEP_BATCH_SIZE]
    )
    error = {"name": "WorkerCrashed", "message": "The worker running this attempt stopped"}
    for attempt in stale:
        fail_attempt(
            attempt,
            error,
            [],
            final_status=RunStatus.CRASHED,
            attempt_status=AttemptStatus.CRASHED,
        )
    return len(stale)


def _execute(sql: str, params: dict[str, Any]) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def pause_queue(queue_id: int) -> bool:
    """Stop dispatching a queue: queued runs wait, executing runs finish."""
    return bool(Queue.objects.filter(pk=queue_id, paused=False).update(paused=True))


def resume_queue(queue_id: int) -> bool:
    """Dispatch a paused queue again."""
    queue = Queue.objects.filter(pk=queue_id).first()
    if queue is None or not queue.paused:
        return False
    with transaction.atomic():
        Queue.objects.filter(pk=queue_id).update(paused=False)
        request_dispatch(queue.environment_id)
    return True


def set_queue_limit(queue_id: int, limit: int | None) -> None:
    """Override a queue's concurrency limit (None for no limit)."""
    queue = Queue.objects.get(pk=queue_id)
    with transaction.atomic():
        Queue.objects.filter(pk=queue_id).update(concurrency_limit=limit)
        request_dispatch(queue.environment_id)
