"""Bulk actions: cancel or replay many runs in the background, with progress.

A bulk action names its runs either by id or by the runs-list filters it was
created with. It is created in the request that asks for it and carried out
by the Celery task `triggerkit.bulk_action`, which calls `perform_bulk_action`:
it walks the runs newest first in chunks, calls the engine's `cancel_run` or
`replay_run` for each, and records each chunk's outcome, with a cursor below
which work resumes, in the counters that the dashboard's progress view polls.
The beat sweep publishes again an action whose message or worker was lost.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from kombu.exceptions import OperationalError

from apikeys.models import Environment
from runs.engine.errors import EngineError, InvalidRequestError
from runs.engine.lifecycle import cancel_run
from runs.engine.trigger import replay_run
from runs.filtering import matching_runs, pin_search_window
from runs.models import BulkAction, BulkActionKind, BulkActionStatus, Run

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger(__name__)

# Runs handled between two progress updates, in one transaction.
CHUNK_SIZE = 50
# Ids named at once by a bulk action over selected rows.
MAX_SELECTED_RUNS = 1000
# A pending or running bulk action that has not moved for this long is handed
# to another worker by the beat sweep (its message or its worker was lost).
BULK_STALL_SECONDS = 60


def create_bulk_action(
    environment: Environment,
    kind: str,
    *,
    run_ids: list[str] | None = None,
    filters: Mapping[str, str] | None = None,
    user: AbstractBaseUser | None = None,
) -> BulkAction:
    """Record a bulk action and start it once the transaction commits.

    Either `run_ids` or `filters` names the runs. With filters, the action
    covers the runs that match now, not those triggered while it works; a
    search reads the same newest runs as the list did (`pin_search_window`).
    """
    if kind not in BulkActionKind.values:
        raise InvalidRequestError(f"Unknown bulk action {kind!r}")

    if run_ids:
        ids = sorted(set(run_ids), reverse=True)
        if len(ids) > MAX_SELECTED_RUNS:
            raise InvalidRequestError(
                f"Select at most {MAX_SELECTED_RUNS} runs, or act on the filters instead"
            )
        found = Run.objects.filter(environment=environment, pk__in=ids).count()
        if found == 0:
            raise InvalidRequestError(
                "None of the selected runs exist in this environment"
            )
        frozen: dict[str, str] = {}
    elif filters is not None:
        ids = []
        frozen = {name: str(value) for name, value in filters.items() if value}
        frozen, _ = pin_search_window(environment, frozen)
        newest = (
            matching_runs(environment, frozen)
            .order_by("-id")
            .values_list("pk", flat=True)
        )
        up_to = newest.first()
        if up_to is None:
            raise InvalidRequestError("No runs match these filters")
        frozen["filter[upTo]"] = up_to
        found = 0
    else:
        raise InvalidRequestError("Name the runs: select some, or act on the filters")

    with transaction.atomic():
        action = BulkAction.objects.create(
            environment=environment,
            kind=kind,
            status=BulkActionStatus.PENDING,
            run_ids=ids,
            filters=frozen,
            total=found,
            created_by=user,
            progress_at=timezone.now(),
        )
        transaction.on_commit(lambda: publish_bulk_action(action.pk))
    logger.info(
        "bulk action created",
        extra={
            "action": "bulk_action_created",
            "bulk_action_id": action.pk,
            "kind": kind,
        },
    )
    return action


def publish_bulk_action(bulk_action_id: str) -> None:
    from runs.tasks import bulk_action

    try:
        bulk_action.apply_async(
            args=[bulk_action_id], retry_policy={"max_retries": 2, "interval_start": 0}
        )
    except OperationalError:
        # It stays PENDING: resume_stalled_bulk_actions publishes it again later.
        logger.warning(
            "broker unreachable, bulk action not started",
            extra={
                "action": "bulk_action_publish_failed",
                "bulk_action_id": bulk_action_id,
            },
        )


def selected_runs(action: BulkAction) -> QuerySet[Run]:
    runs = Run.objects.filter(environment_id=action.environment_id)
    if action.run_ids:
        return runs.filter(pk__in=action.run_ids)
    return matching_runs(action.environment, action.filters)


def perform_bulk_action(bulk_action_id: str) -> BulkAction | None:
    """Carry out a pending bulk action from where it stopped; None if not pending.

    Each chunk of runs is handled in one transaction together with the cursor
    and counters that record it, so a worker that dies loses only the chunk it
    was in, and the worker that resumes starts below the cursor: no run is
    cancelled or replayed twice. A message delivered twice finds the action
    no longer pending and does nothing.
    """
    claimed = BulkAction.objects.filter(
        pk=bulk_action_id, status=BulkActionStatus.PENDING
    ).update(status=BulkActionStatus.RUNNING, progress_at=timezone.now())
    if not claimed:
        return None

    action = BulkAction.objects.select_related("environment").get(pk=bulk_action_id)
    try:
        if not action.cursor:
            # A resumed action keeps the total it started with: with filters
            # such as a status, the runs it handled may no longer match.
            total = selected_runs(action).count()
            BulkAction.objects.filter(pk=action.pk).update(total=total)
        while handle_next_chunk(action):
            pass
    except Exception:
        logger.exception(
            "bulk action stopped",
            extra={"action": "bulk_action_failed", "bulk_action_id": action.pk},
        )
        BulkAction.objects.filter(
            pk=action.pk, status=BulkActionStatus.RUNNING
        ).update(status=BulkActionStatus.FAILED, finished_at=timezone.now())

    action.refresh_from_db()
    logger.info(
        "bulk action finished",
        extra={
            "action": "bulk_action_finished",
            "bulk_action_id": action.pk,
            "status": action.status,
        },
    )
    return action


def handle_next_chunk(action: BulkAction) -> bool:
    """Handle the next runs below the cursor; False once there is nothing left.

    The action's row stays locked while the chunk is handled, and a chunk is
    only handled while the action is RUNNING: a worker the sweep gave up on
    stops at its next chunk instead of racing the one that took over.
    """
    with transaction.atomic():
        current = (
            BulkAction.objects.select_for_update()
            .filter(pk=action.pk, status=BulkActionStatus.RUNNING)
            .values_list("cursor", flat=True)
            .first()
        )
        if current is None:
            return False

        runs = selected_runs(action).select_related("environment", "queue")
        if current:
            runs = runs.filter(pk__lt=current)
        chunk = list(runs.order_by("-id")[:CHUNK_SIZE])
        now = timezone.now()
        if not chunk:
            BulkAction.objects.filter(pk=action.pk).update(
                status=BulkActionStatus.COMPLETED, finished_at=now, progress_at=now
            )
            return False

        succeeded = sum(apply_to_run(action, run) for run in chunk)
        BulkAction.objects.filter(pk=action.pk).update(
            cursor=chunk[-1].pk,
            processed=F("processed") + len(chunk),
            succeeded=F("succeeded") + succeeded,
            failed=F("failed") + len(chunk) - succeeded,
            progress_at=now,
        )
    return True


def resume_stalled_bulk_actions(now: datetime | None = None) -> int:
    """Publish again the bulk actions that have not moved for BULK_STALL_SECONDS.

    A pending one lost its message (or the broker was down when it was
    created); a running one lost its worker. Either goes back to PENDING and
    is published; the worker that claims it continues below its cursor. An
    action whose chunk is being handled right now is locked, hence skipped.
    Returns how many were published.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=BULK_STALL_SECONDS)
    with transaction.atomic():
        stalled = list(
            BulkAction.objects.select_for_update(skip_locked=True)
            .filter(
                Q(
                    status__in=[BulkActionStatus.PENDING, BulkActionStatus.RUNNING],
                    progress_at__lt=cutoff,
                )
                # Made before progress was recorded: only a pending one is safe
                # to start, a running one has no cursor to resume from.
                | Q(
                    status=BulkActionStatus.PENDING,
                    progress_at__isnull=True,
                    created_at__lt=cutoff,
                )
            )
            .values_list("pk", flat=True)
        )
        if not stalled:
            return 0
        BulkAction.objects.filter(pk__in=stalled).update(
            status=BulkActionStatus.PENDING, progress_at=now
        )
        for bulk_action_id in stalled:
            transaction.on_commit(partial(publish_bulk_action, bulk_action_id))

    for bulk_action_id in stalled:
        logger.info(
            "stalled bulk action published again",
            extra={"action": "bulk_action_resumed", "bulk_action_id": bulk_action_id},
        )
    return len(stalled)


def apply_to_run(action: BulkAction, run: Run) -> bool:
    """Cancel or replay one run; False when it was left as it was."""
    try:
        if action.kind == BulkActionKind.CANCEL:
            return cancel_run(run)
        with transaction.atomic():
            replay = replay_run(run)
            Run.objects.filter(pk=replay.pk).update(bulk_action=action)
        return True
    except EngineError as exc:
        logger.info(
            "bulk action skipped a run: %s",
            exc,
            extra={"action": "bulk_action_run_skipped", "run_id": run.pk},
        )
        return False
