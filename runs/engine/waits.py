"""Durable waits: the journal of steps a task reached, suspension and resumption.

A task that reaches an unresolved waitpoint suspends: its attempt segment ends,
its run becomes WAITING and holds no slot. When the waitpoint resolves, the run
is queued again and re-executed from the start; steps already in the journal
return their recorded results, so the task continues where it stopped.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from runs import packets
from runs.engine.dispatch import request_dispatch
from runs.engine.errors import EngineError
from runs.models import (
    FINAL_STATUSES,
    Run,
    RunStatus,
    Waitpoint,
    WaitpointKind,
)

logger = logging.getLogger(__name__)

# Due duration waits resolved per beat tick.
DUE_WAITS_BATCH_SIZE = 500


class NonDeterministicError(EngineError):
    """A re-executed task reached its steps in a different order than before."""

    status = 422


def journal_step(run_id: str, step: int, signature: str) -> Waitpoint | None:
    """Return the recorded step, checking the code asks for the same thing again."""
    waitpoint = Waitpoint.objects.filter(run_id=run_id, step=step).first()
    if waitpoint is not None and waitpoint.signature != signature:
        raise NonDeterministicError(
            f"Step {step} of this run was {waitpoint.signature!r} when it first ran, "
            f"but the re-executed code asked for {signature!r}. Code before and between "
            "waits runs again when a run resumes or retries, so it must reach the same "
            "waits in the same order every time (move randomness, clocks and external "
            "reads into child tasks, or make them depend only on the payload)."
        )
    return waitpoint


def record_step(
    run_id: str,
    step: int,
    kind: str,
    signature: str,
    *,
    child_run: Run | None = None,
    batch_id: str | None = None,
    resume_at: datetime | None = None,
    result: Any = None,
) -> Waitpoint:
    """Add a step to the journal; resolve it at once when its outcome is known."""
    now = timezone.now()
    waitpoint = Waitpoint.objects.create(
        run_id=run_id,
        step=step,
        kind=kind,
        signature=signature,
        child_run=child_run,
        batch_id=batch_id,
        resume_at=resume_at,
        result=result,
        resolved_at=now if kind in (WaitpointKind.TRIGGER, WaitpointKind.BATCH_TRIGGER) else None,
    )
    if kind == WaitpointKind.RUN and child_run is not None and child_run.status in FINAL_STATUSES:
        resolve(waitpoint, run_result(child_run))
    elif kind == WaitpointKind.BATCH:
        resolve_batch_if_done(waitpoint)
    elif kind == WaitpointKind.DURATION and resume_at is not None and resume_at <= now:
        resolve(waitpoint, {"ok": True})
    else:
        return waitpoint
    waitpoint.refresh_from_db(fields=["result", "resolved_at"])
    return waitpoint


def run_result(run: Run) -> dict[str, Any]:
    """What a waiting parent gets back for a finished child."""
    if run.status == RunStatus.COMPLETED:
        return {"ok": True, "id": run.pk, "output": packets.decode(run.output, run.output_type)}
    error = run.error or {"message": f"Run ended {run.status}"}
    return {"ok": False, "id": run.pk, "status": run.status, "error": error}


def resolve(waitpoint: Waitpoint, result: Any) -> None:
    """Record a waitpoint's result and wake its run if it is waiting on it."""
    now = timezone.now()
    resolved = Waitpoint.objects.filter(pk=waitpoint.pk, resolved_at__isnull=True).update(
        result=result, resolved_at=now
    )
    if resolved:
        wake_run(waitpoint.run_id)


def wake_run(run_id: str) -> None:
    """Queue a waiting run again; a run still executing finds the result itself."""
    now = timezone.now()
    run = Run.objects.select_for_update().filter(pk=run_id).first()
    if run is None or run.status != RunStatus.WAITING:
        return
    Run.objects.filter(pk=run_id, status=RunStatus.WAITING).update(
        status=RunStatus.QUEUED, queue_timestamp=queue_time(run, now), updated_at=now
    )
    request_dispatch(run.environment_id)
    logger.info("run resumed", extra={"action": "run_resumed", "run_id": run_id})


def queue_time(run: Run, now: datetime) -> datetime:
    """Where a run (re)joining its queue stands: its priority moves it earlier."""
    return now - timedelta(seconds=run.priority_seconds)


def child_finished(run: Run) -> None:
    """Resolve what waits on a run that just reached a final state (same transaction)."""
    if run.parent_run_id is None:
        return
    for waitpoint in Waitpoint.objects.select_for_update().filter(
        child_run=run, resolved_at__isnull=True
    ):
        resolve(waitpoint, run_result(run))
    if run.batch_id and run.trigger_function == "batchTriggerAndWait":
        for waitpoint in Waitpoint.objects.select_for_update().filter(
            batch_id=run.batch_id, kind=WaitpointKind.BATCH, resolved_at__isnull=True
        ):
            resolve_batch_if_done(waitpoint)


def resolve_batch_if_done(waitpoint: Waitpoint) -> None:
    """Resolve a batch wait once every run of the batch is final (caller holds the lock)."""
    runs = Run.objects.filter(batch_id=waitpoint.batch_id)
    if runs.exclude(status__in=FINAL_STATUSES).exists():
        return
    results = [run_result(run) for run in runs.order_by("batch_index")]
    resolve(waitpoint, results)


def finish_runs(run_ids: list[str]) -> None:
    """Call child_finished for runs finalised in bulk."""
    for run in Run.objects.filter(pk__in=run_ids, parent_run__isnull=False):
        child_finished(run)


def resolve_due_waits(now: datetime | None = None) -> int:
    """Resolve duration waits whose time has come."""
    now = now or timezone.now()
    with transaction.atomic():
        due = list(
            Waitpoint.objects.select_for_update(skip_locked=True).filter(
                Q(kind=WaitpointKind.DURATION), resolved_at__isnull=True, resume_at__lte=now
            )[:DUE_WAITS_BATCH_SIZE]
        )
        for waitpoint in due:
            resolve(waitpoint, {"ok": True})
    return len(due)


def cancel_children(run_id: str) -> list[str]:
    """Return the unfinished children of a run, for the caller to cancel."""
    return list(
        Run.objects.filter(parent_run_id=run_id)
        .exclude(status__in=FINAL_STATUSES)
        .values_list("pk", flat=True)
    )
