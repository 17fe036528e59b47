"""Bulk actions: cancel or replay many runs in the background, with progress.

A bulk action names its runs either by id or by the runs-list filters it was
created with. It is created in the request that asks for it and carried out
by the Celery task `triggerkit.bulk_action`, which calls `perform_bulk_action`:
it walks the runs newest first in chunks, calls the engine's `cancel_run` or
`replay_run` for each, and adds each chunk's outcome to the counters that the
dashboard's progress view polls.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from kombu.exceptions import OperationalError

from apikeys.models import Environment
from runs.durations import parse_duration
from runs.engine.errors import EngineError, InvalidRequestError
from runs.engine.lifecycle import cancel_run
from runs.engine.trigger import replay_run
from runs.ids import new_id
from runs.models import BulkAction, BulkActionKind, BulkActionStatus, Run

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger(__name__)

# Runs handled between two progress updates.
CHUNK_SIZE = 50
# Ids named at once by a bulk action over selected rows.
MAX_SELECTED_RUNS = 1000
# A run's id is minted a moment after its created_at is read; bounds on ids
# derived from times are widened by this much so that they never cut a run off.
ID_TIME_SLACK = timedelta(minutes=1)

# The API's own filters that the dashboard passes through to it.
API_FILTERS = (
    "filter[status]",
    "filter[taskIdentifier]",
    "filter[tag]",
    "filter[batch]",
    "filter[queue]",
    "filter[isTest]",
    "filter[createdAt][period]",
    "filter[createdAt][from]",
    "filter[createdAt][to]",
)


def first_id_at(moment: datetime) -> str:
    """The smallest run id that can have been minted at `moment` or later."""
    return new_id("run", int(moment.timestamp() * 1000))[:14] + "0" * 16


def last_id_at(moment: datetime) -> str:
    """The largest run id that can have been minted at `moment` or earlier."""
    return new_id("run", int(moment.timestamp() * 1000))[:14] + "v" * 16


def matching_runs(
    environment: Environment, filters: Mapping[str, str]
) -> QuerySet[Run]:
    """The runs of an environment that the filters select; bad filters raise.

    The API's filters go through the API's own `filter_runs`, so the dashboard,
    the API and bulk actions agree on what a filter means; the few filters only
    the dashboard offers are applied here.
    """
    # The engine should not import the API; filter_runs belongs in a module of
    # its own under runs/, which is not this module's to move.
    from runs.api.runs import filter_runs

    api_params = {name: filters[name] for name in API_FILTERS if filters.get(name)}
    runs = filter_runs(Run.objects.filter(environment=environment), api_params)

    if run_id := filters.get("filter[id]"):
        runs = runs.filter(pk=run_id)
    if tags := [tag for tag in filters.get("filter[tagAll]", "").split(",") if tag]:
        runs = runs.filter(tags__contains=tags)
    if key := filters.get("filter[idempotencyKey]"):
        runs = runs.filter(Q(idempotency_key=key) | Q(idempotency_key_options__key=key))
    if schedule_id := filters.get("filter[scheduleId]"):
        runs = runs.filter(schedule_id=schedule_id)
    if bulk_id := filters.get("filter[bulkActionId]"):
        runs = runs.filter(bulk_action_id=bulk_id)
    if up_to := filters.get("filter[upTo]"):
        runs = runs.filter(pk__lte=up_to)
    return bound_ids_by_time(runs, api_params)


def bound_ids_by_time(runs: QuerySet[Run], params: Mapping[str, str]) -> QuerySet[Run]:
    """Add id bounds equivalent to the created-at filters, so the id index serves them.

    Ids sort by creation time; without these bounds a narrow period is found by
    walking every newer run of the environment.
    """
    from runs.api.runs import parse_instant

    now = timezone.now()
    if period := params.get("filter[createdAt][period]"):
        duration = parse_duration(period)
        if duration is not None:
            runs = runs.filter(pk__gte=first_id_at(now - duration - ID_TIME_SLACK))
    if start := params.get("filter[createdAt][from]"):
        runs = runs.filter(
            pk__gte=first_id_at(parse_instant(start, "from") - ID_TIME_SLACK)
        )
    if end := params.get("filter[createdAt][to]"):
        runs = runs.filter(pk__lte=last_id_at(parse_instant(end, "to") + ID_TIME_SLACK))
    return runs


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
    covers the runs that match now, not those triggered while it works.
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
        # It stays PENDING; nothing sweeps pending bulk actions yet, so the
        # dashboard shows it as not started and the user can create it again.
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
    """Carry out a pending bulk action; None if it was not pending.

    A message delivered twice finds the action no longer pending and does
    nothing, so a replay is never made twice. The flip side: an action whose
    worker died midway stays RUNNING, with the runs it reached handled.
    """
    claimed = BulkAction.objects.filter(
        pk=bulk_action_id, status=BulkActionStatus.PENDING
    ).update(status=BulkActionStatus.RUNNING)
    if not claimed:
        return None

    action = BulkAction.objects.select_related("environment").get(pk=bulk_action_id)
    try:
        runs = selected_runs(action)
        BulkAction.objects.filter(pk=action.pk).update(total=runs.count())
        for chunk in chunks(runs):
            succeeded = sum(apply_to_run(action, run) for run in chunk)
            BulkAction.objects.filter(pk=action.pk).update(
                processed=F("processed") + len(chunk),
                succeeded=F("succeeded") + succeeded,
                failed=F("failed") + len(chunk) - succeeded,
            )
        status = BulkActionStatus.COMPLETED
    except Exception:
        logger.exception(
            "bulk action stopped",
            extra={"action": "bulk_action_failed", "bulk_action_id": action.pk},
        )
        status = BulkActionStatus.FAILED

    BulkAction.objects.filter(pk=action.pk).update(
        status=status, finished_at=timezone.now()
    )
    action.refresh_from_db()
    logger.info(
        "bulk action finished",
        extra={
            "action": "bulk_action_finished",
            "bulk_action_id": action.pk,
            "status": status,
        },
    )
    return action


def chunks(runs: QuerySet[Run]) -> Iterator[list[Run]]:
    """Yield the runs newest first, a chunk at a time, keyed on the id."""
    runs = runs.select_related("environment", "queue").order_by("-id")
    last_id = None
    while True:
        page = runs.filter(pk__lt=last_id) if last_id else runs
        chunk = list(page[:CHUNK_SIZE])
        if not chunk:
            return
        yield chunk
        last_id = chunk[-1].pk


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
