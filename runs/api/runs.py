"""Endpoints for triggering, reading and managing runs."""

from __future__ import annotations

from contextlib import nullcontext
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from ninja import Router

from runs import engine
from runs.api.base import (
    error_response,
    is_legacy_client,
    json_response,
    public_token_headers,
    remember_response,
    remembered_response,
    request_key,
)
from runs.api.options import build_spec, normalise_tags, parse_ttl
from runs.api.schemas import (
    ErrorResponse,
    IdResponse,
    ReplayBody,
    RescheduleBody,
    ResetKeyBody,
    TagsBody,
    TriggerBody,
    TriggerOptions,
    TriggerResponse,
)
from runs.api.serializers import list_item, run_detail
from runs.durations import resolve_delay
from runs.engine import InvalidRequestError, NotFoundError, UnprocessableError
from runs.filtering import CURSOR_PATTERN, filter_runs
from runs.models import Run, RunStatus

router = Router(tags=["runs"])

PAGE_SIZE_DEFAULT = 25
PAGE_SIZE_MAX = 100
TASK_ID_MAX_LENGTH = 128
# Any route may also answer 429 (rate limit, base.py) and 503 (database unreachable).
ERRORS = {
    400: ErrorResponse, 401: ErrorResponse, 404: ErrorResponse, 413: ErrorResponse,
    422: ErrorResponse, 429: ErrorResponse, 503: ErrorResponse,
}


def get_run(request: HttpRequest, run_id: str) -> Run:
    """The run of the key's environment, or a 404.

    No joins: the environment is the key's own, and parent, root and queue load
    on first use, which most requests never make (polling clients call this
    in a loop, and a join of the run table to itself is costly to compile).
    """
    run = Run.objects.filter(pk=run_id, environment=request.auth).first()
    if run is None:
        raise NotFoundError("Run not found")
    run.environment = request.auth
    return run


@router.post("/v1/tasks/{path:task_id}/trigger", response={200: TriggerResponse, **ERRORS})
def trigger(request: HttpRequest, task_id: str, body: TriggerBody) -> JsonResponse:
    """Trigger one run of a task."""
    environment = request.auth
    if not task_id or len(task_id) > TASK_ID_MAX_LENGTH:
        raise InvalidRequestError("Task id must be 1 to 128 characters")
    key = request_key(request, f"trigger:{task_id}")
    result = remembered_response(environment, key)
    if result is None:
        spec = build_spec(body.payload, "payload" in body.model_fields_set, body.options)
        # Without a request key there is nothing to remember: no outer transaction.
        with transaction.atomic() if key else nullcontext():
            triggered = engine.trigger_run(environment, task_id, spec)
            result = {"id": triggered.run.pk, "isCached": triggered.is_cached}
            remember_response(environment, key, result)
    scopes = [f"read:runs:{result['id']}", f"write:inputStreams:{result['id']}"]
    return json_response(result, headers=public_token_headers(environment, scopes))


@router.get("/v3/runs/{run_id}", response={200: dict, **ERRORS})
def retrieve(request: HttpRequest, run_id: str) -> JsonResponse:
    """Retrieve a run with its payload, output, error and related runs."""
    run = get_run(request, run_id)
    return json_response(run_detail(run, is_legacy_client(request)))


@router.get("/v1/runs", response={200: dict, **ERRORS})
def list_runs(request: HttpRequest) -> JsonResponse:
    """List runs newest first, filtered as API.md §2.7 describes, with cursors."""
    params = request.GET
    runs = filter_runs(Run.objects.filter(environment=request.auth), params)
    size = page_size(params.get("page[size]"))
    after, before = params.get("page[after]"), params.get("page[before]")
    for cursor in (after, before):
        if cursor is not None and not CURSOR_PATTERN.match(cursor):
            return error_response(f"Invalid cursor: {cursor!r}", 400)

    if before:
        page = list(runs.filter(pk__gt=before).order_by("id")[: size + 1])
        has_more = len(page) > size
        page = list(reversed(page[:size]))
        pagination = cursors(page, newer=has_more, older=True)
    else:
        if after:
            runs = runs.filter(pk__lt=after)
        page = list(runs.order_by("-id")[: size + 1])
        has_more = len(page) > size
        page = page[:size]
        pagination = cursors(page, newer=bool(after), older=has_more)

    legacy = is_legacy_client(request)
    for run in page:
        run.environment = request.auth
    return json_response({"data": [list_item(run, legacy) for run in page], "pagination": pagination})


def cursors(page: list[Run], *, newer: bool, older: bool) -> dict[str, str]:
    pagination = {}
    if page and older:
        pagination["next"] = page[-1].pk
    if page and newer:
        pagination["previous"] = page[0].pk
    return pagination


def page_size(raw: str | None) -> int:
    if raw is None:
        return PAGE_SIZE_DEFAULT
    try:
        size = int(raw)
    except ValueError as exc:
        raise InvalidRequestError(f"page[size] must be a number, got {raw!r}") from exc
    if not 1 <= size <= PAGE_SIZE_MAX:
        raise InvalidRequestError(f"page[size] must be between 1 and {PAGE_SIZE_MAX}")
    return size


@router.post("/v2/runs/{run_id}/cancel", response={200: IdResponse, **ERRORS})
def cancel(request: HttpRequest, run_id: str) -> JsonResponse:
    """Cancel a run; a run that already finished is left as it is."""
    run = get_run(request, run_id)
    engine.cancel_run(run)
    return json_response({"id": run.pk})


@router.post("/v1/runs/{run_id}/replay", response={200: IdResponse, **ERRORS})
def replay(request: HttpRequest, run_id: str, body: ReplayBody | None = None) -> JsonResponse:
    """Start a new run with the same payload and options, or the overrides given."""
    run = get_run(request, run_id)
    overrides = replay_spec(body) if body is not None and body.model_fields_set else None
    with transaction.atomic():
        new_run = engine.replay_run(run, overrides)
    return json_response({"id": new_run.pk})


def replay_spec(body: ReplayBody) -> engine.TriggerSpec:
    options = TriggerOptions(
        payloadType=body.payloadType,
        metadata=body.metadata,
        tags=body.tags,
        queue={"name": body.queue} if body.queue else None,
        concurrencyKey=body.concurrencyKey,
        delay=body.delay,
        ttl=body.ttl,
        maxAttempts=body.maxAttempts,
        maxDuration=body.maxDuration,
        priority=body.priority,
        idempotencyKey=body.idempotencyKey,
        idempotencyKeyTTL=body.idempotencyKeyTTL,
        machine=body.machine,
        region=body.region,
        lockToVersion=body.version,
    )
    return build_spec(body.payload, "payload" in body.model_fields_set, options)


@router.post("/v1/runs/{run_id}/reschedule", response={200: dict, **ERRORS})
def reschedule(request: HttpRequest, run_id: str, body: RescheduleBody) -> JsonResponse:
    """Move a delayed run to a new time (a duration from now or a date)."""
    run = get_run(request, run_id)
    try:
        due = resolve_delay(body.delay, timezone.now())
    except ValueError as exc:
        raise InvalidRequestError(str(exc)) from exc
    if due is None:
        raise InvalidRequestError(f"Invalid delay: {body.delay!r} is in the past")
    if run.status != RunStatus.DELAYED or not engine.reschedule_run(run, due):
        raise InvalidRequestError("Cannot reschedule a run that is not delayed")
    return json_response(run_detail(get_run(request, run_id), is_legacy_client(request)))


@router.post("/v1/runs/{run_id}/tags", response={200: dict, **ERRORS})
def add_tags(request: HttpRequest, run_id: str, body: TagsBody) -> JsonResponse:
    """Add tags to a run, keeping at most ten."""
    run = get_run(request, run_id)
    tags = engine.add_tags(run.pk, normalise_tags(body.tags))
    return json_response({"message": f"Successfully set {len(tags)} new tags."})


@router.post("/v1/idempotencyKeys/{path:key}/reset", response={200: IdResponse, **ERRORS})
def reset_idempotency_key(request: HttpRequest, key: str, body: ResetKeyBody) -> JsonResponse:
    """Release an idempotency key so the next trigger with it creates a new run."""
    released = Run.objects.filter(
        environment=request.auth, task_identifier=body.taskIdentifier, idempotency_key=key
    ).update(idempotency_key=None, updated_at=timezone.now())
    if not released:
        return error_response(f"No runs found with idempotency key: {key}", 404)
    return json_response({"id": key})
