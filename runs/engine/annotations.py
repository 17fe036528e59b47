"""Metadata and tags of a run, changed while it runs or from the API."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from runs import packets
from runs.engine.errors import InvalidRequestError, NotFoundError, PayloadTooLargeError
from runs.engine.trigger import check_tags
from runs.models import Run

METADATA_MAX_BYTES = 256 * 1024


def check_metadata_size(metadata: Any) -> None:
    if metadata is None:
        return
    size = len(packets.encode_json(metadata).encode())
    if size > METADATA_MAX_BYTES:
        raise PayloadTooLargeError(
            f"Metadata is too large: {size} bytes, the limit is {METADATA_MAX_BYTES}"
        )


def update_metadata(run_id: str, operations: list[dict[str, Any]]) -> dict[str, Any]:
    """Apply metadata operations in order under a row lock; return the result."""
    with transaction.atomic():
        run = Run.objects.select_for_update().only("metadata").filter(pk=run_id).first()
        if run is None:
            raise NotFoundError("Run not found")
        metadata = dict(run.metadata or {})
        if not operations:
            return metadata
        for operation in operations:
            metadata = apply_operation(metadata, operation)
        check_metadata_size(metadata)
        Run.objects.filter(pk=run_id).update(metadata=metadata, updated_at=timezone.now())
    return metadata


def apply_operation(metadata: dict[str, Any], operation: dict[str, Any]) -> dict[str, Any]:
    op, key, value = operation.get("op"), operation.get("key"), operation.get("value")
    if op == "replace":
        if not isinstance(value, dict):
            raise InvalidRequestError("metadata.replace needs a JSON object")
        return dict(value)
    if op == "set":
        metadata[key] = value
    elif op == "delete":
        metadata.pop(key, None)
    elif op == "increment":
        current = metadata.get(key, 0)
        if not isinstance(current, (int, float)) or isinstance(current, bool):
            raise InvalidRequestError(f"metadata key {key!r} is not a number")
        metadata[key] = current + value
    elif op in ("append", "remove"):
        current = metadata.get(key, [])
        items = list(current) if isinstance(current, list) else [current]
        metadata[key] = items + [value] if op == "append" else [i for i in items if i != value]
    else:
        raise InvalidRequestError(f"unknown metadata operation {op!r}")
    return metadata


def add_tags(run_id: str, tags: list[str]) -> list[str]:
    """Add tags to a run, deduplicated; a run keeps at most ten."""
    with transaction.atomic():
        run = Run.objects.select_for_update().only("tags").filter(pk=run_id).first()
        if run is None:
            raise NotFoundError("Run not found")
        merged = sorted(set(run.tags) | {tag.strip() for tag in tags if tag.strip()})
        check_tags(merged)
        Run.objects.filter(pk=run_id).update(tags=merged, updated_at=timezone.now())
    return merged
