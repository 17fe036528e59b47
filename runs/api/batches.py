"""Batch endpoints: the two-phase v3 protocol, retrieval, and the legacy one-shot form."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, JsonResponse
from ninja import Router
from pydantic import ValidationError as PydanticValidationError

from runs import engine, storage
from runs.api.base import (
    describe_errors,
    error_response,
    json_response,
    public_token_headers,
    remember_response,
    remembered_response,
    request_key,
)
from runs.api.options import build_spec
from runs.api.schemas import (
    BatchItemLine,
    CreateBatchBody,
    ErrorResponse,
    LegacyBatchBody,
    LegacyBatchItem,
)
from runs.api.serializers import batch_object
from runs.engine import BatchItem, InvalidRequestError, NotFoundError, PayloadTooLargeError
from runs.models import Batch

router = Router(tags=["batches"])

NDJSON_TYPES = ("application/x-ndjson", "application/ndjson")
LEGACY_BATCH_MAX_ITEMS = 500
# Any route may also answer 429 (rate limit, base.py) and 503 (database unreachable).
ERRORS = {
    400: ErrorResponse, 401: ErrorResponse, 404: ErrorResponse, 413: ErrorResponse,
    415: ErrorResponse, 422: ErrorResponse, 429: ErrorResponse, 503: ErrorResponse,
}


@router.post("/v3/batches", response={202: dict, **ERRORS})
def create_batch(request: HttpRequest, body: CreateBatchBody) -> JsonResponse:
    """Phase 1: reserve a batch for runCount items."""
    environment = request.auth
    batch, cached = engine.create_batch(
        environment,
        body.runCount,
        body.taskIdentifiers or [],
        body.idempotencyKey,
        body.idempotencyKeyOptions,
    )
    data = {"id": batch.pk, "runCount": batch.run_count, "isCached": cached}
    if batch.idempotency_key:
        data["idempotencyKey"] = batch.idempotency_key
    return json_response(data, 202, public_token_headers(environment, [f"read:batch:{batch.pk}"]))


@router.post("/v3/batches/{batch_id}/items", response={200: dict, **ERRORS})
def add_items(request: HttpRequest, batch_id: str) -> JsonResponse:
    """Phase 2: a stream of NDJSON items; re-sent indexes are counted once."""
    content_type = request.content_type or ""
    if content_type not in NDJSON_TYPES:
        return error_response("Items must be sent as application/x-ndjson", 415)
    batch = Batch.objects.filter(pk=batch_id, environment=request.auth).first()
    if batch is None:
        raise NotFoundError("Batch not found")

    items = [parse_item(line, number) for number, line in enumerate(read_lines(request), 1)]
    with stored_payloads(items):
        result = engine.add_batch_items(batch, items)
    return json_response(
        {
            "id": batch.pk,
            "itemsAccepted": result.accepted,
            "itemsDeduplicated": result.deduplicated,
            "sealed": result.sealed,
        }
    )


def read_lines(request: HttpRequest) -> list[bytes]:
    """Read the body, chunked (no Content-Length, de-chunked by the server) or not."""
    limit = settings.TRIGGERKIT_BATCH_PAYLOAD_MAX_BYTES + 1024 * 1024
    if request.META.get("CONTENT_LENGTH"):
        body = request.body
    elif request.META.get("wsgi.input_terminated"):
        body = request.META["wsgi.input"].read(limit + 1)
    else:
        body = b""
    if len(body) > limit:
        raise PayloadTooLargeError(
            f"Batch is too large: its payloads may add up to "
            f"{settings.TRIGGERKIT_BATCH_PAYLOAD_MAX_BYTES} bytes"
        )
    return [line for line in body.splitlines() if line.strip()]


def parse_item(line: bytes, number: int) -> BatchItem:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InvalidRequestError(f"Invalid JSON on line {number}") from exc
    try:
        item = BatchItemLine.model_validate(data)
    except PydanticValidationError as exc:
        raise engine.UnprocessableError(
            f"Invalid item on line {number}: {describe_errors(exc.errors())}"
        ) from exc
    present = isinstance(data, dict) and "payload" in data
    spec = build_spec(item.payload, present, item.options, offload=False)
    return BatchItem(item.index, item.task, spec)


@contextmanager
def stored_payloads(items: list[BatchItem]) -> Iterator[None]:
    """Check the batch's total size, then store its large payloads one by one.

    Objects no run ends up using are deleted on the way out: all of them when the
    batch is refused, those of deduplicated items when it is not. Uploads the
    client made are deleted when the batch is refused for its size.
    """
    uploads = [key for item in items if (key := stored_key(item))]
    try:
        check_batch_total(items)
    except PayloadTooLargeError:
        storage.discard_quietly(uploads)
        raise

    offloaded = []
    try:
        for item in items:
            spec = item.spec
            spec.payload, spec.payload_type = storage.offload_if_large(
                spec.payload, spec.payload_type, "payload"
            )
            if (key := stored_key(item)) and key not in uploads:
                offloaded.append(key)
        yield
    finally:
        storage.discard_quietly(offloaded)


def stored_key(item: BatchItem) -> str | None:
    packet = storage.StoredPacket.from_column(item.spec.payload, item.spec.payload_type)
    return None if packet is None else packet.key


def check_batch_total(items: list[BatchItem]) -> None:
    limit = settings.TRIGGERKIT_BATCH_PAYLOAD_MAX_BYTES
    total = sum(payload_size(item) for item in items)
    if total > limit:
        raise PayloadTooLargeError(
            f"Batch payloads add up to {total} bytes, the limit is {limit}"
        )


def payload_size(item: BatchItem) -> int:
    packet = storage.StoredPacket.from_column(item.spec.payload, item.spec.payload_type)
    if packet is not None:
        return packet.size
    return len(item.spec.payload.encode()) if item.spec.payload else 0


@router.get("/v2/batches/{batch_id}", response={200: dict, **ERRORS})
def retrieve_batch(request: HttpRequest, batch_id: str) -> JsonResponse:
    """A batch with its run ids in item order."""
    batch = Batch.objects.filter(pk=batch_id, environment=request.auth).first()
    if batch is None:
        raise NotFoundError("Batch not found")
    return json_response(batch_object(batch))


def legacy_spec(item: LegacyBatchItem) -> engine.TriggerSpec:
    present = "payload" in item.model_fields_set
    return build_spec(item.payload, present, item.options, offload=False)


@router.post("/v1/tasks/batch", response={202: dict, **ERRORS})
def legacy_batch(request: HttpRequest, body: LegacyBatchBody) -> JsonResponse:
    """The SDK 3.x batch: every item in one request, run ids in the response."""
    environment = request.auth
    if len(body.items) > LEGACY_BATCH_MAX_ITEMS:
        raise InvalidRequestError(
            f"Batch size of {len(body.items)} is too large: at most "
            f"{LEGACY_BATCH_MAX_ITEMS} items on this endpoint"
        )
    key = request.headers.get("idempotency-key") or None
    items = [
        BatchItem(index, item.task, legacy_spec(item)) for index, item in enumerate(body.items)
    ]
    with stored_payloads(items), transaction.atomic():
        batch, cached = engine.create_batch(
            environment, len(items), [item.task_identifier for item in items], key
        )
        if not cached:
            engine.add_batch_items(batch, items)
    run_ids = engine.batch_run_ids(batch)
    tasks = {item.index: item.task_identifier for item in items}
    data = {
        "id": batch.pk,
        "isCached": cached,
        "runs": [
            {"id": run_id, "taskIdentifier": tasks.get(index, ""), "isCached": cached}
            for index, run_id in enumerate(run_ids)
        ],
    }
    if key:
        data["idempotencyKey"] = key
    return json_response(data, 202, public_token_headers(environment, [f"read:batch:{batch.pk}"]))
