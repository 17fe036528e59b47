"""Run state changes after the trigger: start, finish, retry, cancel, time."""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from alerts.hooks import run_failed as alert_run_failed
from apikeys.models import ENV_SLUGS, EnvironmentKind
from runs import publish, sql
from runs.durations import format_duration
from runs.engine import waits
from runs.engine.dispatch import request_dispatch
from runs.engine.trigger import find_task
from runs.models import (
    FINAL_STATUSES,
    Attempt,
    AttemptStatus,
    Queue,
    Run,
    RunLog,
    RunStatus,
    Waitpoint,
)

logger = logging.getLogger(__name__)

CANCELED_ERROR = {"message": "Canceled by user"}
# Rows changed per statement by the time-based sweeps.
SWEEP_BATCH_SIZE = 1000
# Below this many DEQUEUED runs in its environment, a freed slot always asks for a
# dispatch pass (END_ATTEMPT_SQL).
DISPATCH_BACKLOG_MIN_RUNS = 10
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
    # "<project>/<dev|stg|prod>", for the log lines of the attempt.
    environment_label: str


@dataclass(frozen=True)
class LogLine:
    logged_at: datetime
    level: str
    message: str


# Claims a dequeued run and starts its attempt in one statement: a run resuming after
# a wait continues its last (suspended) attempt as a new segment; any other start is
# a new attempt. No row comes back when another actor claimed the run first.
CLAIM_SQL = """
WITH last AS (
    SELECT number, segment, status FROM runs_attempt
    WHERE run_id = %(run)s
    ORDER BY number DESC, segment DESC
    LIMIT 1
), next AS (
    SELECT
        CASE WHEN last.status = 'SUSPENDED' THEN last.number
             ELSE coalesce(last.number, 0) + 1 END AS number,
        CASE WHEN last.status = 'SUSPENDED' THEN last.segment + 1 ELSE 0 END AS segment
    FROM (SELECT) AS one LEFT JOIN last ON true
), claimed AS (
    UPDATE runs_run AS run
    SET status = 'EXECUTING', started_at = coalesce(run.started_at, %(now)s),
        updated_at = %(now)s, attempt_count = next.number
    FROM next
    WHERE run.id = %(run)s AND run.status = 'DEQUEUED'
    RETURNING {run_columns}
), attempt AS (
    INSERT INTO runs_attempt
        (run_id, number, segment, status, started_at, heartbeat_at, worker)
    SELECT claimed.id, next.number, next.segment, 'EXECUTING', %(now)s, %(now)s,
        %(worker)s
    FROM claimed, next
    RETURNING id, number, segment
)
SELECT claimed.*, attempt.id AS attempt_id, attempt.number AS attempt_number,
    attempt.segment AS attempt_segment, environment.kind AS environment_kind,
    project.slug AS project_slug
FROM claimed, attempt, apikeys_environment AS environment, apikeys_project AS project
WHERE environment.id = claimed.environment_id AND project.id = environment.project_id
""".format(run_columns=sql.column_list(Run, "run"))

# Ends an executing attempt and moves its run on ({changes}) in one statement, and
# says whether the slot it frees wants a dispatch pass now: when runs are queued in
# the environment and either the run's queue has its own limit (the slot may be the
# only one of its lane) or fewer runs wait DEQUEUED in the broker than a tenth of
# the environment's limit (and at least DISPATCH_BACKLOG_MIN_RUNS). With a deeper
# backlog every worker has work, and a later completion refills the slots. Beat's
# tick is the backstop, also for a run queued while this statement ran, whose own
# dispatch pass still counted this run's slot as taken. No row comes back when the
# attempt had been ended elsewhere.
END_ATTEMPT_SQL = """
WITH ended AS (
    UPDATE runs_attempt
    SET status = %(attempt_status)s, finished_at = %(now)s, error = %(attempt_error)s
    WHERE id = %(attempt)s AND status = 'EXECUTING'
    RETURNING run_id
), moved AS (
    UPDATE runs_run AS run SET {changes}
    WHERE run.id = (SELECT run_id FROM ended) AND run.status = 'EXECUTING'
    RETURNING run.queue_id, run.environment_id
), backlog AS (
    SELECT moved.environment_id, queue.concurrency_limit AS queue_limit,
        greatest(%(backlog_min_runs)s, env.concurrency_limit / 10) AS enough
    FROM moved
    JOIN runs_queue AS queue ON queue.id = moved.queue_id
    JOIN apikeys_environment AS env ON env.id = moved.environment_id
)
SELECT (
    -- The first lane of the dispatcher's walk, if any run is queued (run_dispatch).
    SELECT queued.queue_id FROM runs_run AS queued
    WHERE queued.environment_id = backlog.environment_id AND queued.status = 'QUEUED'
    ORDER BY queued.queue_id, queued.concurrency_key
    LIMIT 1
) IS NOT NULL AND (
    queue_limit IS NOT NULL OR (
        SELECT count(*) FROM (
            SELECT FROM runs_run AS waiting
            WHERE waiting.environment_id = backlog.environment_id
              AND waiting.status = 'DEQUEUED'
            LIMIT backlog.enough
        ) AS dequeued
    ) < backlog.enough
)
FROM backlog
"""


@dataclass(frozen=True)
class EndedAttempt:
    wants_dispatch: bool


def start_attempt(run_id: str, worker: str) -> StartedAttempt | None:
    """Claim a dequeued run for execution; None if another actor got there first."""
    now = timezone.now()
    rows = sql.execute(CLAIM_SQL, {"run": run_id, "now": now, "worker": worker})
    if not rows:
        return None

    run = sql.model_from_row(Run, rows[0])
    attempt_id, number, segment, environment_kind, project_slug = rows[0][-5:]
    attempt = Attempt(
        pk=attempt_id,
        run=run,
        number=number,
        segment=segment,
        status=AttemptStatus.EXECUTING,
        started_at=now,
        heartbeat_at=now,
        worker=worker,
    )
    label = f"{project_slug}/{ENV_SLUGS[EnvironmentKind(environment_kind)]}"
    logger.info(
        "attempt started",
        extra={
            "action": "attempt_started",
            "run_id": run_id,
            "task": run.task_identifier,
            "attempt": attempt.number,
            "environment": label,
        },
    )
    return StartedAttempt(run, attempt, label)


def complete_attempt(
    attempt: Attempt, output: str | None, output_type: str, logs: Iterable[LogLine]
) -> bool:
    """Record a successful attempt; False if the run was no longer executing."""
    now = timezone.now()
    run = attempt.run
    lines = list(logs)
    with atomic_if(bool(lines) or run.parent_run_id is not None):
        ended = end_attempt(
            attempt,
            AttemptStatus.COMPLETED,
            None,
            lines,
            now,
            {
                "status": RunStatus.COMPLETED,
                "output": output,
                "output_type": output_type,
                "error": None,
                "finished_at": now,
                "updated_at": now,
            },
        )
        if ended is None:
            return False
        notify_parent(run)
        if ended.wants_dispatch:
            request_dispatch(run.environment_id)
    logger.info(
        "attempt completed",
        extra={"action": "attempt_completed", "run_id": attempt.run_id},
    )
    return True


def fail_attempt(
    attempt: Attempt,
    error: dict[str, Any],
    logs: Iterable[LogLine],
    *,
    retryable: bool = True,
    final_status: str = RunStatus.FAILED,
    attempt_status: str = AttemptStatus.FAILED,
) -> str | None:
    """Record a failed attempt and retry the run if it may; return its new status."""
    now = timezone.now()
    run = attempt.run
    if retryable and attempt.number < run.max_attempts:
        status = RunStatus.RETRYING
        delay = retry_delay(task_retry_policy(run), attempt.number)
        changes = {"delay_until": now + delay}
    else:
        status = final_status
        changes = {"finished_at": now}

    lines = list(logs)
    with atomic_if(bool(lines) or run.parent_run_id is not None):
        ended = end_attempt(
            attempt,
            attempt_status,
            error,
            lines,
            now,
            {"status": status, "error": error, "updated_at": now, **changes},
        )
        if ended is None:
            return None
        if status != RunStatus.RETRYING:
            notify_parent(run)
        if ended.wants_dispatch:
            request_dispatch(run.environment_id)

    alert_run_failed(run, status, error)
    level = logging.INFO if status == RunStatus.RETRYING else logging.WARNING
    logger.log(
        level,
        "attempt failed",
        extra={"action": "attempt_failed", "run_id": run.pk, "status": status},
    )
    return status


def atomic_if(needed: bool):
    """A transaction when statements must commit together; one is atomic alone."""
    return transaction.atomic() if needed else nullcontext()


def end_attempt(
    attempt: Attempt,
    status: str,
    error: dict[str, Any] | None,
    lines: list[LogLine],
    now: datetime,
    run_changes: dict[str, Any],
) -> EndedAttempt | None:
    """End an executing attempt with its lines; apply run_changes to its executing run.

    None when the attempt had already been ended elsewhere: cancelled, or crashed
    by the lease sweep while its worker was merely slow. Such a worker must not
    touch the run any more, which may already be running its next attempt.
    """
    save_logs(attempt, lines)
    fields = {name: Run._meta.get_field(name) for name in run_changes}
    changes = ", ".join(f"{f.column} = %({name})s" for name, f in fields.items())
    params = {
        name: fields[name].get_db_prep_save(value, connection)
        for name, value in run_changes.items()
    }
    error_field = Attempt._meta.get_field("error")
    params.update(
        attempt=attempt.pk,
        attempt_status=status,
        attempt_error=error_field.get_db_prep_save(error, connection),
        now=now,
        backlog_min_runs=DISPATCH_BACKLOG_MIN_RUNS,
    )
    rows = sql.execute(END_ATTEMPT_SQL.format(changes=changes), params)
    return EndedAttempt(wants_dispatch=rows[0][0]) if rows else None


def save_logs(attempt: Attempt, logs: Iterable[LogLine]) -> None:
    RunLog.objects.bulk_create(
        [
            RunLog(
                run_id=attempt.run_id,
                attempt_number=attempt.number,
                logged_at=line.logged_at,
                level=line.level,
                message=line.message,
            )
            for line in logs
        ]
    )


def finish_attempt(
    attempt: Attempt,
    status: str,
    now: datetime,
    error: dict[str, Any] | None,
    logs: Iterable[LogLine],
) -> bool:
    """End an executing attempt; False if it had already been ended elsewhere."""
    ended = Attempt.objects.filter(pk=attempt.pk, status=AttemptStatus.EXECUTING).update(
        status=status, finished_at=now, error=error
    )
    save_logs(attempt, logs)
    return ended == 1


def suspend_attempt(attempt: Attempt, step: int, logs: Iterable[LogLine]) -> str | None:
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
            status = RunStatus.QUEUED
            changes = {"queue_timestamp": waits.queue_time(run, now)}
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
    task = find_task(run.environment_id, run.task_identifier)
    return (task.retry if task is not None else None) or {}


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
            rows = sql.execute(PROMOTE_SQL, {"now": now, "limit": SWEEP_BATCH_SIZE})
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
        Run.objects.filter(pk__in=[pk for pk, _ in lost]).update(
            dequeued_at=now, updated_at=now
        )
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
